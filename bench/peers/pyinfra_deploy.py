"""The redeploy job in pyinfra: upload the artifact and tender, template the unit,
daemon-reload and restart only when something changed."""

from pyinfra import host
from pyinfra.operations import files, systemd
from pyinfra.operations.util import any_changed

d = host.data
files.directory(name="release dir", path=d.dir)
artifact = files.put(name="artifact", src=d.artifact, dest=f"{d.dir}/app.hvt", mode="644")
tender = files.put(name="tender", src=d.tender, dest=f"{d.dir}/solo5-hvt", mode="755")
unit = files.template(
    name="unit",
    src=d.template,
    dest=f"/etc/systemd/system/{d.unit}",
    tool="pyinfra",
    uname=d.uname,
    dir=d.dir,
    tap=d.tap,
    net=d.net,
)
systemd.service(
    name="restart on change",
    service=d.unit,
    running=True,
    restarted=True,
    daemon_reload=True,
    _if=any_changed(artifact, tender, unit),
)
