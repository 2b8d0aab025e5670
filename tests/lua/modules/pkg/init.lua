return {kind = "package"}
