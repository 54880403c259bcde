// Power line criticality (N-1) runs: lines by the people their outage cuts off (see power.js).

import { criticalityView } from "./power.js";

export default { name: "power_criticality", ...criticalityView };
