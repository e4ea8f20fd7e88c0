# What this module does: the mailmagic package root: its version. The notebook magics
# (`%load_ext mailmagic`) and the lab server (`mailmagic.lab`) live in subpackages.
__version__ = "0.1.0"
