# pylint: disable=undefined-variable  # web2py injects response
# -*- coding: utf-8 -*-
"""A canary, not web2py's appadmin: the probe application has no appadmin (it has no database
to administer through the web). The tests ask for /probe/appadmin/... spelt every way a client
might, over plain HTTP, and this fixed text tells them a request got through to a controller
named appadmin. It only ever returns this text."""


def index():
    response.headers["Content-Type"] = "text/plain"
    response.headers["Cache-Control"] = "no-store"
    return "probe appadmin canary"
