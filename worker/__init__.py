"""The LiveKit worker: tenants, model providers, and the wiring of one call.

Imports point one way: ``agent.py`` -> ``worker`` -> ``tools`` -> ``memory``.
"""
