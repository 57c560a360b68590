<?php
// A real PHP upstream for sidecar/test/http/rack-php-redteam.test.ts: `php -S 127.0.0.1:PORT router.php`
// (Debian's php-cli). It records what it executed, as PHP parsed the request: $_SERVER['REQUEST_METHOD'],
// $_GET and $_POST (after PHP's own name rewriting: '.', ' ' and '[' become '_'; the last duplicate wins),
// PATH_INFO, X-Forwarded-For as the app reads it ($_SERVER), and the method and route a Laravel app would run. Laravel (Symfony's Request::getMethod) honours
// an override only on POST: the X-HTTP-Method-Override header, else `_method` from the parsed body, else
// from the query, upper-cased. Its route is the path after the front controller (`/index.php/refunds` routes
// to /refunds), percent-decoded. GET /_executed returns the record (a file named by REGATE_PHP_LOG) and clears it.
$log = getenv('REGATE_PHP_LOG');
$uri = $_SERVER['REQUEST_URI'];
$path = explode('?', $uri, 2)[0];
if ($path === '/_executed') {
    header('Content-Type: application/json');
    $lines = file_exists($log) ? file($log, FILE_IGNORE_NEW_LINES) : [];
    file_put_contents($log, '');
    echo '[' . implode(',', $lines) . ']';
    return true;
}

$method = $_SERVER['REQUEST_METHOD'];
if ($method === 'POST') {
    $override = $_SERVER['HTTP_X_HTTP_METHOD_OVERRIDE'] ?? ($_POST['_method'] ?? ($_GET['_method'] ?? null));
    if (is_string($override) && $override !== '') $method = strtoupper($override);
}
// Symfony's base URL: a path that starts with the script's name runs that script with the rest as its route.
$route = $path;
foreach (['/index.php', '/router.php'] as $front) {
    if (strncmp($route, $front, strlen($front)) === 0) { $route = substr($route, strlen($front)); break; }
}
$route = rawurldecode($route === '' ? '/' : $route);

$entry = [
    'app' => 'php',
    'request_method' => $_SERVER['REQUEST_METHOD'],
    'method' => $method,
    'route' => $route,
    'path_info' => $_SERVER['PATH_INFO'] ?? null,
    'forwarded_for' => $_SERVER['HTTP_X_FORWARDED_FOR'] ?? null,
    'get' => $_GET,
    'post' => $_POST,
];
file_put_contents($log, json_encode($entry, JSON_INVALID_UTF8_SUBSTITUTE) . "\n", FILE_APPEND);
header('Content-Type: application/json');
echo json_encode(['ran' => $method, 'route' => $route, 'email' => 'alice@example.com']);
return true;
