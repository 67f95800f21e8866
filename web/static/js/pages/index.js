// The two areas of the app: the dashboard at / and the agent console at /console, one shell.

import { assistantPage, assistantsPage } from "./assistants.js";
import { callPage } from "./call.js";
import { callsPage } from "./calls.js";
import { campaignPage, campaignsPage } from "./campaigns.js";
import { kpisPage } from "./kpis.js";
import { leadPage } from "./lead.js";
import { leadsPage } from "./leads.js";
import { consolePage } from "./console.js";
import { livePage } from "./live.js";

export const DASHBOARD = {
  title: "the dashboard",
  subtitle: "Dashboard",
  signInText: "Calls, leads, campaigns and assistants.",
  home: "/calls",
  nav: [
    { path: "/calls", label: "Calls", icon: "calls" },
    { path: "/live", label: "Live", icon: "live" },
    { path: "/leads", label: "Leads", icon: "leads" },
    { path: "/campaigns", label: "Campaigns", icon: "campaigns" },
    { path: "/kpis", label: "KPIs", icon: "kpis" },
    { path: "/assistants", label: "Assistants", icon: "assistants" },
    { divider: "Agents" },
    { href: "/console", label: "Agent console", icon: "console" },
  ],
  routes: [
    { pattern: /^\/calls$/, page: callsPage },
    { pattern: /^\/calls\/([^/]+)$/, page: callPage },
    { pattern: /^\/live$/, page: livePage },
    { pattern: /^\/leads$/, page: leadsPage },
    { pattern: /^\/leads\/([^/]+)$/, page: leadPage },
    { pattern: /^\/campaigns$/, page: campaignsPage },
    { pattern: /^\/campaigns\/([^/]+)$/, page: campaignPage },
    { pattern: /^\/kpis$/, page: kpisPage },
    { pattern: /^\/assistants$/, page: assistantsPage },
    { pattern: /^\/assistants\/([^/]+)$/, page: assistantPage },
  ],
};

export const CONSOLE = {
  title: "the agent console",
  subtitle: "Agent console",
  signInText: "Transfers offered to you, live transcripts, listen-in. Sign in with your agent token (or the admin API key).",
  credential: "Agent token",
  home: "/",
  nav: [
    { path: "/", label: "Console", icon: "console" },
    { divider: "Admin" },
    { href: "/", label: "Dashboard", icon: "calls" },
  ],
  routes: [{ pattern: /^\/$/, page: consolePage }],
};
