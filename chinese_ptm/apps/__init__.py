"""Applications on top of every layer: the main job (:mod:`.demo`), a checkpoint against training from scratch
(:mod:`.evaluate`) and the self-contained HTML report both write (:mod:`.report`).

Imports: any layer below (pretraining, fine-tuning, prompts, spelling correction). Nothing imports ``apps``
except the command line.
"""
