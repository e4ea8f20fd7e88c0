"""The display layer: views that turn results (replies, cells, sessions, transcripts, maildrops,
messages, fetches, the lab server) into text/plain and text/html bundles with a widget in a kernel,
every one built on display/base.py's View. Pure: never opens a socket."""
