"""Helpers shared by the scripts that export models in dode's formats."""
import json


def config_text(cfg):
    """config.json text with one graph op (or log entry) per line; checks it parses back to cfg."""
    lines = ["{"]
    keys = list(cfg)
    for i, k in enumerate(keys):
        v = cfg[k]
        end = "," if i + 1 < len(keys) else ""
        if k == "graph":
            ops = [" " * 3 + json.dumps(op) for op in v]
            lines.append(f' "{k}": [\n' + ",\n".join(ops) + "\n ]" + end)
        elif isinstance(v, dict):
            items = []
            for kk, vv in v.items():
                if isinstance(vv, list) and vv and isinstance(vv[0], dict):
                    inner = ",\n".join(" " * 5 + json.dumps(e) for e in vv)
                    items.append(f"   {json.dumps(kk)}: [\n{inner}\n   ]")
                else:
                    items.append(f"   {json.dumps(kk)}: {json.dumps(vv, ensure_ascii=False)}")
            lines.append(f' "{k}": {{\n' + ",\n".join(items) + "\n }" + end)
        else:
            lines.append(f' "{k}": {json.dumps(v)}{end}')
    lines.append("}")
    text = "\n".join(lines) + "\n"
    assert json.loads(text) == json.loads(json.dumps(cfg))
    return text
