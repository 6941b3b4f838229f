"""The only place that touches asyncssh, SFTP, journalctl and systemctl. Library exceptions are
translated into WorkbenchError subclasses here; nothing above catches asyncssh errors."""
