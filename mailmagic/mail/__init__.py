"""The message model, separate from how a message is shown (display/message.py): the bytes of one
RFC 5322 message parsed into headers, bodies, attachments and a MIME tree (message.py), their text
decoded from whatever charset they declare (decode.py), its HTML part sanitised (sanitise.py), and
attachments saved to files with safe names (parts.py). No widgets, sockets or sessions: it reads
only the bytes it is given."""
