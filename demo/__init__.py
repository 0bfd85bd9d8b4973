"""demo/: ``python -m demo [-n N]`` runs the digits CNN (models/digits_int8.tflite) on the conv engine
RTL in simulation, end to end through the CFU command port, and checks it against LiteRT.

``demo.rtl.run_on_rtl`` is the reusable part: any .tflite the compiler accepts, run image by image on
the cached CnnCfu simulator build (tb/test_digits.py is the testbench).
"""
