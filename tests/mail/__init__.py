# What this module does: makes tests/mail a package, so that test modules of the same name in
# different folders do not clash.
