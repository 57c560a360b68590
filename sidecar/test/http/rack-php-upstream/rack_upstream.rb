# Two real Ruby upstreams for sidecar/test/http/rack-php-redteam.test.ts, from Debian's ruby-rack (2.2),
# ruby-sinatra and ruby-webrick: a bare Rack app behind Rack::MethodOverride, and a Sinatra app with
# method_override on (which mounts Rack::MethodOverride itself). Each records what it executed: the method as
# the app sees it, its route and the parameters Rack parsed. GET /_executed returns the record and clears it.
# Prints {"rack": port, "sinatra": port} on its first line of stdout; exits when stdin closes.
require "json"
require "rack"
require "sinatra/base"
require "webrick"

LOG = []
LOCK = Mutex.new
def record(entry) = LOCK.synchronize { LOG << entry }
def drain = LOCK.synchronize { LOG.dup.tap { LOG.clear } }

# The route a Rails-like app would run: first segment, case kept.
BARE = Rack::Builder.new do
  use Rack::MethodOverride
  run(lambda do |env|
    if env["PATH_INFO"] == "/_executed"
      next [200, { "content-type" => "application/json" }, [JSON.generate(drain)]]
    end
    req = Rack::Request.new(env)
    params = begin
      req.params
    rescue StandardError => e
      { "_error" => e.class.name }
    end
    record({ "app" => "rack", "method" => env["REQUEST_METHOD"], "path" => env["PATH_INFO"], "params" => params })
    [200, { "content-type" => "application/json" }, [JSON.generate({ "ran" => env["REQUEST_METHOD"], "path" => env["PATH_INFO"], "email" => "alice@example.com" })]]
  end)
end.to_app

class SinatraUpstream < Sinatra::Base
  set :method_override, true
  set :show_exceptions, false
  set :raise_errors, false
  set :host_authorization, { permitted_hosts: [] } if settings.respond_to?(:host_authorization)

  get("/_executed") { content_type :json; JSON.generate(drain) }

  %w[get post put patch delete].each do |verb|
    send(verb, "/refunds") { ran("refunds") }
    send(verb, "/items/:id") { ran("item") }
  end

  def ran(route)
    record({ "app" => "sinatra", "method" => request.request_method, "route" => route, "path" => request.path_info, "params" => params.to_h })
    content_type :json
    JSON.generate({ "ran" => request.request_method, "route" => route, "email" => "alice@example.com" })
  end
end

def serve(app)
  server = WEBrick::HTTPServer.new(BindAddress: "127.0.0.1", Port: 0, Logger: WEBrick::Log.new(File::NULL), AccessLog: [])
  server.mount("/", Rack::Handler::WEBrick, app)
  Thread.new { server.start }
  server.config[:Port]
end

ports = { "rack" => serve(BARE), "sinatra" => serve(SinatraUpstream.new) }
$stdout.puts(JSON.generate(ports))
$stdout.flush
$stdin.read
