"""The session layer, the only one that owns sockets: live SMTP and POP3 sessions with TLS, timeouts
and masked transcripts, and the registry of named sessions."""
