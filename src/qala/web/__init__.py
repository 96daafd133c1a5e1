"""The situational-centre dashboard shell: layout, city map, module tiles, alerts, citizen page."""

from qala.core.i18n import _
from qala.core.modules import Module

module = Module(
    name="web",
    title=_("Situational centre"),
    models="qala.web.models",
    api="qala.web.api:router",
    pages="qala.web.pages:router",
    tiles="qala.web.pages:TILES",
    city_switchable=False,
)
