# pylint: disable=undefined-variable  # web2py injects request, response, session, cache, db, DAL, Field
# -*- coding: utf-8 -*-
# web2py.deploy probe application: a smoke check for every recipe (see ../README.md).
# Its database comes from private/appconfig.ini, rendered by the web2py.deploy.web2py role.
from gluon.contrib.appconfig import AppConfig

configuration = AppConfig(reload=False)

db = DAL(
    configuration.get("db.uri") or "sqlite://storage.sqlite",
    pool_size=configuration.get("db.pool_size") or 0,
    migrate=bool(configuration.get("db.migrate")),
    check_reserved=["all"],
)
db.define_table(
    "probe_row",
    Field("probe_token", "string", length=64, notnull=True),
    Field("served_by", "string", length=255),
    Field("created_on", "datetime", default=request.now),
)
response.generic_patterns = []
