# pylint: disable=undefined-variable  # web2py injects db, configuration (models/db.py), request
# -*- coding: utf-8 -*-
# web2py.deploy probe: a scheduler task, only when private/appconfig.ini says
# [scheduler] enabled = true (the web2py_scheduler role's scenario turns it on).
import os
import socket

if configuration.get("scheduler.enabled"):
    from gluon.scheduler import Scheduler

    def probe_task(token):
        """Writes a row the web side can read back, and says which process ran it."""
        db.probe_row.insert(probe_token=token, served_by="scheduler@%s" % socket.gethostname())
        db.commit()
        return {"token": token, "pid": os.getpid()}

    scheduler = Scheduler(
        db,
        tasks={"probe_task": probe_task},
        heartbeat=int(configuration.get("scheduler.heartbeat") or 3),
        migrate=bool(configuration.get("db.migrate")),
    )
