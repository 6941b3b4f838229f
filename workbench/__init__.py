"""workbench: build, deploy, supervise and watch MirageOS/Solo5 unikernels on your own hosts."""

__version__ = "0.1.0"
