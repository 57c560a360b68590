"""Validates OCSF events, one JSON object per stdin line, with the pinned ocsf-emitter (OCSF 1.5.0 models).

Prints one JSON line per event: {"ok": true} or {"ok": false, "errors": [...]}.
ocsf-emitter's models accept attributes they do not declare (profile attributes such as `policy`), so the
`policy` object of the security_control profile is validated here against the schema's Policy object too.
"""

import json
import sys

from pydantic import ValidationError

import ocsf_emitter
from ocsf_emitter import defaults, models
from ocsf_emitter.errors import InvalidFindingError


def check(event: dict) -> list[str]:
    spec = defaults.class_spec_by_uid(int(event.get("class_uid", -1)))
    if spec is None:
        return [f"class_uid: {event.get('class_uid')} is not an OCSF class ocsf-emitter knows"]
    model = getattr(models, spec.model_name)
    try:
        ocsf_emitter.validate(model.model_validate(event))
        if "policy" in event:
            models.Policy.model_validate(event["policy"])
    except InvalidFindingError as e:
        return list(e.field_errors) or [str(e)]
    except ValidationError as e:
        return [f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors()]
    return []


for line in sys.stdin:
    if not line.strip():
        continue
    errors = check(json.loads(line))
    print(json.dumps({"ok": not errors, "errors": errors}) if errors else json.dumps({"ok": True}), flush=True)
