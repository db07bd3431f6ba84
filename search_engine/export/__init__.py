"""Export: int8 TFLite in the memory-optimal operator order, TFLM verification, C header.

Modules (import them directly; nothing is imported here, so importing the package is free and
TensorFlow stays out until ``convert`` is used):

- ``convert``: Keras model -> full-integer int8 ``.tflite`` bytes;
- ``tflite_graph``: ``.tflite`` -> ``OpGraph``, operator reordering, model I/O details;
- ``tflm``: the real TFLM interpreter in child processes: smallest arena, int8 accuracy;
- ``arena_probe``: the child-process entry (TFLM only, no TensorFlow);
- ``planner``: a model of TFLM's greedy memory planner;
- ``overhead``: fitted estimate of TFLM's arena beyond the activations;
- ``header``: the C header for a TFLM sketch;
- ``demo_models``: small models for tests and demos (the overhead measurement is
  ``bench/measure_overhead.py``).

See ``docs/export.md``.
"""
