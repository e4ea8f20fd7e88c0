# What this module does: the display layer: views that turn results (replies, cells, sessions,
# transcripts, the lab server) into text/plain and text/html bundles. Pure: never opens a socket.
