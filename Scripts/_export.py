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


def frechet(f1, f2):
    """Fréchet distance between Gaussians fitted (mean, covariance ddof=1) to two feature sets,
    float64: |mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1^1/2 S2 S1^1/2)^1/2). Both square roots are of
    symmetric PSD matrices, taken by eigendecomposition with negative round-off eigenvalues
    clipped to 0. (numpy is imported here: scripts import this module before their
    virtualenv bootstrap has run.)"""
    import numpy as np

    f1 = np.asarray(f1, np.float64)
    f2 = np.asarray(f2, np.float64)
    mu1, mu2 = f1.mean(0), f2.mean(0)
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    ev, vec = np.linalg.eigh(s1)
    r1 = (vec * np.sqrt(np.clip(ev, 0, None))) @ vec.T
    m = r1 @ s2 @ r1
    em = np.linalg.eigvalsh((m + m.T) / 2)
    tr_cross = np.sqrt(np.clip(em, 0, None)).sum()
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * tr_cross)
