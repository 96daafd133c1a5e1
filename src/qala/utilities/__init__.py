"""Utilities: housing & utilities and energy — buildings, meters, consumption, balance and
losses, incidents (ЖКХ / ТКШ)."""

from qala.core.i18n import _
from qala.core.modules import Module

module = Module(
    name="utilities",
    title=_("Housing & utilities"),
    requires=("hub",),
    models="qala.utilities.models",
    api="qala.utilities.api:router",
    pages="qala.utilities.pages:router",
    tiles="qala.utilities.pages:TILES",
    demo="qala.utilities.demo:seed",
    workers="qala.utilities.daily:start",
)
