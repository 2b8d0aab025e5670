---@meta _

---An immutable 2D vector (from `util.vector2`). Serializable.
---`tostring` gives `(x, y)`; `a == b` compares components.
---@class engine.Vector2
---@field x number
---@field y number
---@operator add(engine.Vector2): engine.Vector2
---@operator sub(engine.Vector2): engine.Vector2
---@operator mul(engine.Vector2): number
---@operator mul(number): engine.Vector2
---@operator div(number): engine.Vector2
---@operator unm: engine.Vector2
local Vector2 = {}

---Length.
---@return number
function Vector2:length() end

---Squared length.
---@return number
function Vector2:length2() end

---The unit vector and the original length (a zero vector stays zero).
---@return engine.Vector2 unit
---@return number length
function Vector2:normalize() end

---Dot product (also `a * b`).
---@param other engine.Vector2
---@return number
function Vector2:dot(other) end

---An immutable 3D vector (from `util.vector3`; object positions). Serializable.
---`tostring` gives `(x, y, z)`; `a == b` compares components; `a * b` is the
---dot product, `a * k` and `k * a` scale.
---@class engine.Vector3
---@field x number
---@field y number
---@field z number
---@operator add(engine.Vector3): engine.Vector3
---@operator sub(engine.Vector3): engine.Vector3
---@operator mul(engine.Vector3): number
---@operator mul(number): engine.Vector3
---@operator div(number): engine.Vector3
---@operator unm: engine.Vector3
local Vector3 = {}

---Length.
---@return number
function Vector3:length() end

---Squared length.
---@return number
function Vector3:length2() end

---The unit vector and the original length (a zero vector stays zero).
---@return engine.Vector3 unit
---@return number length
function Vector3:normalize() end

---Dot product (also `a * b`).
---@param other engine.Vector3
---@return number
function Vector3:dot(other) end

---Cross product.
---@param other engine.Vector3
---@return engine.Vector3
function Vector3:cross(other) end
