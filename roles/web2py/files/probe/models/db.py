# pylint: disable=undefined-variable  # web2py injects request, response, session, cache, db, DAL, Field
# -*- coding: utf-8 -*-
# web2py.deploy probe application: a smoke check for every recipe (see ../README.md).
# Its database comes from private/appconfig.ini, rendered by the web2py.deploy.web2py role.
from gluon.contrib.appconfig import AppConfig

configuration = AppConfig(reload=False)

# Read-only actions go to the read replicas when appconfig lists some (db.read_uris), as in
# the guide's replicated-databases recipe; web2py_deploy_db_uris comes from the managed model.
# No migrations there: DAL keeps its .table files per URI, so it would try to create the
# tables on a replica, which refuses writes.
READ_ONLY_ACTIONS = ("dbread",)
READ_ONLY = request.function in READ_ONLY_ACTIONS
db = DAL(
    web2py_deploy_db_uris(read_only=READ_ONLY),
    pool_size=configuration.get("db.pool_size") or 0,
    migrate=bool(configuration.get("db.migrate")) and not READ_ONLY,
    check_reserved=["all"],
)
db.define_table(
    "probe_row",
    Field("probe_token", "string", length=64, notnull=True),
    Field("served_by", "string", length=255),
    Field("created_on", "datetime", default=request.now),
)
# The upload actions' field (/probe/default/upload): files go to uploads/, no row is written.
db.define_table("probe_file", Field("attachment", "upload", autodelete=False))
response.generic_patterns = []
