"""Zou, Liu, Li 2022 (ICLR): the optimal adaptation learning rate of MAML.

Loss convention: plain MSE (the paper's), inner step w' = w − (2α/K)Φᵀ(Φw − y). Which "true α*"
each figure uses is stated in its result's docstring and in docs/zou2022.md.

Submodules: `linear` (Figs 1, 5, 8, closed form), `appendix` (Figs 6, 7), `estimates` (Figs 4, 9,
11), `comparison` (Fig. 11 row 2), `neural` (Table 2, sinusoid with frozen MLP features), `ntk`
(Fig. 2 and the NTK panel Fig. 4b) and `deep` (Figs 10 and 12, meta-trained networks).
"""

from metagrad.experiments.zou2022 import appendix as appendix
from metagrad.experiments.zou2022 import comparison as comparison
from metagrad.experiments.zou2022 import deep as deep
from metagrad.experiments.zou2022 import estimates as estimates
from metagrad.experiments.zou2022 import linear as linear
from metagrad.experiments.zou2022 import neural as neural
from metagrad.experiments.zou2022 import ntk as ntk
