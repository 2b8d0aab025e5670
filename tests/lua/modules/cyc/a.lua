return require("modules.cyc.b")
