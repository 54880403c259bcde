// Power-flow runs: buildings served or not, line loadings, bus voltages (see power.js).

import { flowView } from "./power.js";

export default { name: "power_flow", ...flowView };
