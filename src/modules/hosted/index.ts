// The hosted pages module's public face: what app/ may use (eslint.config.js enforces it).
export { registerHostedRoutes } from './routes.js';
export { HostedPageService } from './service.js';
export { registerSubscribeRoutes } from './subscribe-routes.js';
export { SubscribePageService } from './subscribe.js';
export { NOT_FOUND_PAGE, OWN_PAGE_POLICY, page, protect } from './page.js';
