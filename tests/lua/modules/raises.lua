error("module failed on purpose")
