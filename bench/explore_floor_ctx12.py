import math, sys
import numpy as np
sys.path.insert(0, "bench")
import explore_floor as ef, auroc as bench
from aelab.data import binarize
from sklearn.metrics import roc_auc_score
d = np.load("/tmp/aelab17/bench_fold1_scores.npz")
lab = d["test_labels"]
tr, te = ef.load_split(0, 5, 1, None)
assert (te.labels.numpy() == lab).all()
c12 = ef.adaptive_bits(binarize(te.images), ef.TEMPLATES[12]).numpy()
w = bench._resample_weights(lab, 1000, 0)
rows = []
for dig in range(10):
    y = (lab == dig).astype(int)
    e, g, n = d[f"bvae_elbo_ctx/{dig}/0"], d[f"bvae_gmm_ctx/{dig}/0"], d[f"bvae_neg_elbo/{dig}/0"]
    c10 = n / math.log(2) - e
    v = {"elbo_ctx": e, "gmm_ctx": g, "elbo_ctx12": e + c10 - c12, "gmm_ctx12": g + c10 - c12}
    base = bench._weighted_auroc(y, e, w)
    out = []
    for k, s in v.items():
        dl = bench._weighted_auroc(y, s, w) - base
        lo, hi = np.percentile(dl, [2.5, 97.5])
        out.append(f"{k} {roc_auc_score(y, s):.3f} ({roc_auc_score(y, s) - roc_auc_score(y, e):+.3f} [{lo:+.3f}, {hi:+.3f}])")
    print(dig, " | ".join(out))
