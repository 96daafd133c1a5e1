"""Demo cities (real coordinates, populations and districts), demo users and departments."""

from qala.core.i18n import _
from qala.core.modules import Module

module = Module(
    name="demo",
    title=_("Demo data"),
    models="qala.demo.models",
    cli="qala.demo.cli:app",
    demo="qala.demo.service:seed_city",
    city_switchable=False,
)
