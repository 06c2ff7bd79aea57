"""Data layer: from the user's volume files to float32 slice stacks and intensity histograms.

Rooms, in the order the data flows through them:

- ``nifti``: list a folder's volume files, read one NIfTI file (header checked first);
  ``VolumeError``.
- ``companions``: pair each image with its brain mask or label file; drop companions from a listing.
- ``volumes``: one volume to a cube in [0, 1] (foreground check, ``NORMALISATIONS``, ``RESIZERS``).
- ``split``: the sorted train/validation/test split of the files.
- ``slices``: slices of one volume, and the stacked slices of a split.
- ``histograms``: App. C equalisation, brain histograms, App. D lesion histograms.

Images everywhere in this package are float32 in [0, 1] with an exactly-zero background; the
brain mask is ``image > 0`` (SPEC 1.4). Volumes are ``(X, Y, Z)`` in the file's voxel order
(optionally reoriented to RAS); a slice along axis 2 is ``volume[:, :, k]`` with shape ``(X, Y)``,
untransposed, as in the authors' code (SPEC 1.1).

Nothing here writes to the user's files: volumes are read into memory (no memory map) and every
array handed out is a fresh copy.
"""
