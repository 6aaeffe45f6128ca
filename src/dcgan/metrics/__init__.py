"""Sample-quality metrics: FID, KID and precision/recall/density/coverage on any feature extractor.

The pipeline, one module per step, each testable alone:
- ``extractors``: uint8 images -> (N, F) features, behind a small registry (inception, judge:PATH,
  dfeat[:CKPT], random);
- ``reference``: the real images' features, from a seeded subset, cached on disk;
- ``distances``: features -> statistics -> numbers (torch-fidelity and prdc underneath);
- ``evaluate``: a checkpoint -> samples -> every number plus the protocol (``dcgan eval``);
- ``tracking``: evaluation during training, best checkpoint and collapse warnings.

Nothing here is imported by the trainer except ``tracking``, and only when ``--eval-every`` is given.
"""
