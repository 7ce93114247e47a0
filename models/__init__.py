"""All registers. Importing this package imports every stage module, so every register is known.

Stages: master (基础数据), risk (风险控制), delivery (交付前), handover (交付),
aftercare (交付后), communication (业主沟通).
"""
import importlib
import pkgutil

STAGE_ORDER = ('master', 'risk', 'delivery', 'handover', 'aftercare', 'communication')

EXTRA_MODELS = []

# `due` is the deadline engine over the registers, not a register module: imported by its users,
# after every register (its schema hook then runs after the search tables are built).
_names = [m.name for m in pkgutil.iter_modules(__path__) if m.name not in ('base', 'due')]
for _name in sorted(_names, key=lambda n: (STAGE_ORDER.index(n) if n in STAGE_ORDER else 99, n)):
    _module = importlib.import_module('%s.%s' % (__name__, _name))
    EXTRA_MODELS.extend(getattr(_module, 'EXTRA_MODELS', []))
