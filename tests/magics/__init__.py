# What this module does: makes tests/magics a package, so that test modules of the same name
# in different folders do not clash.
