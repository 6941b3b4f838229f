"""The disk image formats `workbench image` writes, with their file suffixes: a leaf module, so
that the command line lists them without importing the image code (and elftools with it:
80 ms of every command's start-up, `workbench --help` included)."""

FORMATS = {"raw": ".img", "qcow2": ".qcow2", "gce-tar": ".tar.gz"}
