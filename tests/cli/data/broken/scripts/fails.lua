return {engineHandlers = {onUpdate = function() error("fails on purpose") end}}
