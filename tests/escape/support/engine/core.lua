-- A file trying to shadow an API package: require must never load it.
print('ESCAPED: engine.core came from a file')
return {}
