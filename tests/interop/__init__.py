# What this module does: marks the interoperability tests against independent real servers
# (Dovecot for POP3/POP3S, Postfix for SMTP) as a package, so their module names do not clash.
