-- counts how often it is loaded: require caches per instance
loads = (loads or 0) + 1
return {loads = loads, name = ...}
