// A stand-in for @azure/functions (the v4 programming model) with only what an app calls when
// it loads: app.http(name, options), recorded so the test server can call the handler as the
// Functions host calls an HTTP trigger.
const registrations = [];

module.exports = {
  app: {
    http: (name, options) => {
      registrations.push({ name, options });
    },
  },
  registrations,
};
