"""The pymilter side: callbacks that gather a message, and the libmilter loop."""
