"""Exp 4: every model and scorer on labelled lesion data, lesion by lesion (docs/lesions.md).

Rooms, in the order the data flows through them:

- ``painting``: the embedded lesion set: 3-D lesions painted into volumes, label maps as NIfTI.
- ``labelled``: a labelled set read and checked (labels, shapes, affines), its slices selected,
  its healthy histogram compared with the training data's (the contrast guard rail).
- ``components``: 3-D lesion components and their intensity statistics.
- ``experiment``: one model's reconstructions scored by every scorer: set metrics and the
  lesion-by-lesion table (detection at the best-Dice threshold, AP over the lesion's box).
- ``summaries``: detection rate per healthy-histogram percentile bin, the Exp 1 prediction.
"""
