"""Sample-quality metrics: FID, KID and precision/recall/density/coverage on any feature extractor.

The pipeline, one module per step, each testable alone:
- features come from ``dcgan.features`` (the extractor registry and the on-disk cache, shared with the
  probe and the memorisation check);
- ``reference``: the seeded subset of real images the features are compared with;
- ``distances``: features -> statistics -> numbers (torch-fidelity and prdc underneath);
- ``evaluate``: a checkpoint -> samples -> every number plus the protocol (``dcgan eval``);
- ``tracking``: evaluation during training, best checkpoint and collapse warnings.

Nothing here is imported by the trainer except ``tracking``, and only when ``--eval-every`` is given.
"""
