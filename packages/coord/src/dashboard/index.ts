export { DASHBOARD_ASSETS_DIR, DashboardPageError, assembleDashboardPage, loadDashboardPage } from './page.js';
export type { DashboardPage, DashboardSources } from './page.js';
