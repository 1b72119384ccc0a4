-- bocker.project.kube: `export kube`: Kubernetes YAML (Deployments, Jobs, Services, PVCs).
local U = require "bocker.project.util"
local raise, where_at, message_of, suggestion, sorted_keys = U.raise, U.where_at, U.message_of, U.suggestion, U.sorted_keys
local copy, fnv1a64, needs_shell, ensure_dir = U.copy, U.fnv1a64, U.needs_shell, U.ensure_dir
local LABEL_PROJECT, LABEL_SERVICE, LABEL_NUMBER, LABEL_HASH = U.LABEL_PROJECT, U.LABEL_SERVICE, U.LABEL_NUMBER, U.LABEL_HASH
local M = require "bocker.project.model"
local project, Project = M.project, M.Project
local health = require "bocker.project.health"
local health_argv = health.argv

-- YAML: scalars as JSON strings/numbers (JSON is YAML), nesting by indentation.
local function yaml_scalar(v)
  if type(v) == "string" then return bocker.json(v) end
  return tostring(v)
end

local function yaml(v, indent, out)
  indent = indent or ""
  out = out or {}
  if type(v) ~= "table" then out[#out + 1] = indent .. yaml_scalar(v) return out end
  local is_list = #v > 0 or next(v) == nil
  if is_list then
    if next(v) == nil then out[#out] = out[#out] .. " []" return out end
    for _, x in ipairs(v) do
      if type(x) == "table" and next(x) ~= nil and #x == 0 then
        local sub = yaml(x, indent .. "  ", {})
        sub[1] = indent .. "- " .. sub[1]:sub(#indent + 3)
        for _, l in ipairs(sub) do out[#out + 1] = l end
      elseif type(x) == "table" then
        out[#out + 1] = indent .. "-"
        yaml(x, indent .. "  ", out)
      else
        out[#out + 1] = indent .. "- " .. yaml_scalar(x)
      end
    end
    return out
  end
  local keys = v.__order or sorted_keys(v)
  for _, k in ipairs(keys) do
    local x = v[k]
    if k ~= "__order" and x ~= nil then
      if type(x) == "table" then
        if next(x) == nil then out[#out + 1] = indent .. k .. ": {}"
        else
          out[#out + 1] = indent .. k .. ":"
          yaml(x, indent .. "  ", out)
        end
      else
        out[#out + 1] = indent .. k .. ": " .. yaml_scalar(x)
      end
    end
  end
  return out
end

local function ordered(t, order)
  t.__order = order
  return t
end

--- A name every kind accepts: a DNS-1035 label (lower-case letters, digits and '-', starting
--- with a letter, ending with a letter or digit, at most 63 characters), which is also a
--- DNS-1123 label and subdomain.
local function kube_name(s)
  local n = s:lower():gsub("[^a-z0-9-]", "-"):gsub("^[^a-z]+", ""):sub(1, 63):gsub("[^a-z0-9]+$", "")
  if n == "" then n = "x-" .. fnv1a64(s):sub(1, 8) end
  if n ~= s:lower() and #n > 54 then n = n:sub(1, 54):gsub("-+$", "") .. "-" .. fnv1a64(s):sub(1, 8) end
  return n
end

--- A label value: at most 63 of [-A-Za-z0-9_.], starting and ending with a letter or digit.
local function label_value(s)
  return (tostring(s):gsub("[^%w_.-]", "-"):sub(1, 63):gsub("^[^%w]+", ""):gsub("[^%w]+$", ""))
end

--- Whether k is a valid label/annotation key: [PREFIX/]NAME, NAME up to 63 of [-A-Za-z0-9_.]
--- starting and ending alphanumeric, PREFIX a DNS subdomain.
local function qualified_key(k)
  local prefix, name = k:match("^(.+)/(.+)$")
  name = name or k
  if #name > 63 or not name:match("^%w[%w_.-]*$") or not name:match("%w$") then return false end
  if prefix and (#prefix > 253 or not prefix:match("^[a-z0-9][a-z0-9.-]*$") or not prefix:match("[a-z0-9]$")) then return false end
  return true
end

--- Whether an image reference names something only this machine has: an image id (img_…) or
--- the folder given to `bocker init`.
local function local_only(image)
  return image:match("^img_") ~= nil or image:sub(1, 1) == "/" or image:sub(1, 1) == "."
end

--- Kubernetes objects for the project: a Deployment (a Job for jobs) and a Service (when it
--- publishes ports) per service, a PersistentVolumeClaim per named volume. Returns YAML text.
--- opts: registry = "PREFIX" (images that exist only here become PREFIX/PROJECT-SERVICE:latest),
--- bind_mounts = "emptydir" (default) | "pvc" | "hostpath", warn = function(message) (default:
--- a line on stderr).
function Project:kube(opts)
  opts = opts or {}
  local warn = opts.warn or function(msg) io.stderr:write("warning: ", msg, "\n") end
  local bind_mounts = opts.bind_mounts or "emptydir"
  if bind_mounts ~= "emptydir" and bind_mounts ~= "pvc" and bind_mounts ~= "hostpath" then
    error("kube: bind_mounts must be emptydir, pvc or hostpath", 2)
  end
  self:plan { images = false }
  local docs = {}
  local function doc(t) docs[#docs + 1] = table.concat(yaml(t), "\n") end
  local function pvc(name)
    doc(ordered({
      apiVersion = "v1", kind = "PersistentVolumeClaim",
      metadata = { name = name, labels = { ["bocker.project"] = label_value(self.name) } },
      spec = { accessModes = { "ReadWriteOnce" }, resources = { requests = { storage = "1Gi" } } },
    }, { "apiVersion", "kind", "metadata", "spec" }))
  end
  for _, name in ipairs(self.volume_order) do pvc(kube_name(self.volumes[name].real)) end
  local bind_pvcs = {}
  for _, s in ipairs(self.order) do
    if s.kind == "service" and #s.specs > 0 then
      if #(s.joins or {}) > 0 then
        warn(("service '%s': shares the namespaces of %s here; written as a Deployment of its own (in Kubernetes, containers that share them belong in one pod)")
          :format(s.name, table.concat(s.joins, ", ")))
      end
      -- Replicas with identical settings share one Deployment; computed ones get one each.
      local groups = {}
      local first = s.specs[1]
      local function same(a, b)
        local x, y = copy(a), copy(b)
        x.name, y.name = nil, nil
        return bocker.json(x) == bocker.json(y)
      end
      local uniform = true
      for i = 2, #s.specs do if not same(first, s.specs[i]) then uniform = false end end
      if uniform then groups[1] = { name = s.name, spec = first, count = #s.specs }
      else for i, spec in ipairs(s.specs) do groups[i] = { name = s.name .. "-" .. i, spec = spec, count = 1 } end end
      for _, g in ipairs(groups) do
        local spec = g.spec
        local labels = { app = kube_name(g.name), ["bocker.project"] = label_value(self.name), ["bocker.service"] = label_value(s.name) }
        -- The service's own labels become annotations: their values need not be label values.
        local annotations
        for _, k in ipairs(sorted_keys(spec.labels or {})) do
          if qualified_key(k) then
            annotations = annotations or {}
            annotations[k] = spec.labels[k]
          else
            warn(("service '%s': label '%s' is not a valid Kubernetes annotation key; left out"):format(s.name, k))
          end
        end
        local container = { __order = { "name", "image", "command", "args", "workingDir", "env", "ports", "volumeMounts", "resources", "readinessProbe" } }
        container.name = kube_name(s.name)
        local image = s.def.kube_image or s.def.image or "IMAGE"
        if not s.def.kube_image and local_only(image) then
          if opts.registry then
            image = ("%s/%s-%s:latest"):format(opts.registry:gsub("/+$", ""), kube_name(self.name), kube_name(s.name))
            warn(("service '%s': image %s exists only here; written as %s (push it there)"):format(s.name, s.def.image, image))
          else
            warn(("service '%s': image %s exists only on this machine; push it and pass --registry PREFIX (or set kube_image)")
              :format(s.name, image))
          end
        end
        container.image = image
        if spec.entrypoint then container.command = spec.entrypoint end
        if spec.cmd then
          if spec.shell then
            if spec.entrypoint then container.args = { "/bin/sh", "-c", spec.cmd[1] }
            else container.command = { "/bin/sh", "-c", spec.cmd[1] } end
          else container.args = spec.cmd end
        end
        container.workingDir = spec.workdir
        if spec.env then
          container.env = {}
          for _, kv in ipairs(spec.env) do
            local k, v = kv:match("^([^=]+)=(.*)$")
            container.env[#container.env + 1] = ordered({ name = k, value = v }, { "name", "value" })
          end
        end
        local ports, seen = {}, {}
        local function add_port(cport, proto)
          proto = (proto ~= "" and proto or "tcp"):upper()
          if seen[cport .. proto] then return end
          seen[cport .. proto] = true
          ports[#ports + 1] = ordered({ containerPort = tonumber(cport), protocol = proto }, { "containerPort", "protocol" })
        end
        for _, p in ipairs(spec.ports or {}) do
          local cport, proto = p:match(":(%d+)/?(%a*)$")
          if cport then add_port(cport, proto) end
        end
        -- Ports the service serves to the others (compose's expose): a Service makes them reachable by name.
        for _, e in ipairs(s.def.expose or {}) do
          local cport, proto = tostring(e):match("^(%d+)/?(%a*)$")
          if cport then add_port(cport, proto) end
        end
        if #ports > 0 then container.ports = ports end
        local volumes, mounts = {}, {}
        for k, vol in ipairs(spec.volumes or {}) do
          local src, dst, mode = vol:match("^([^:]+):([^:]+):?(.*)$")
          if dst ~= "/etc/hosts" then
            local vname = "vol-" .. k
            if src:sub(1, 1) == "/" then
              if bind_mounts == "hostpath" then
                volumes[#volumes + 1] = { name = vname, hostPath = { path = src } }
              elseif bind_mounts == "pvc" then
                local claim = kube_name(self.name .. "-bind-" .. src:gsub("^/", ""))
                if not bind_pvcs[claim] then bind_pvcs[claim] = true; pvc(claim) end
                volumes[#volumes + 1] = { name = vname, persistentVolumeClaim = { claimName = claim } }
                warn(("service '%s': the bind mount %s becomes the PersistentVolumeClaim %s (fill it yourself)"):format(s.name, src, claim))
              else
                volumes[#volumes + 1] = { name = vname, emptyDir = {} }
                warn(("service '%s': the bind mount %s becomes an empty emptyDir on %s (--bind-mounts pvc or hostpath to choose otherwise)")
                  :format(s.name, src, dst))
              end
            else
              volumes[#volumes + 1] = { name = vname, persistentVolumeClaim = { claimName = kube_name(src) } }
            end
            mounts[#mounts + 1] = ordered({ name = vname, mountPath = dst, readOnly = mode == "ro" or nil },
              { "name", "mountPath", "readOnly" })
          end
        end
        for k, t in ipairs(spec.tmpfs or {}) do
          local vname = "tmpfs-" .. k
          volumes[#volumes + 1] = { name = vname, emptyDir = { medium = "Memory" } }
          mounts[#mounts + 1] = ordered({ name = vname, mountPath = t }, { "name", "mountPath" })
        end
        if #mounts > 0 then container.volumeMounts = mounts end
        if spec.memory or spec.cpu_shares then
          container.resources = { limits = { memory = spec.memory and tostring(spec.memory) or nil },
                                  requests = { cpu = spec.cpu_shares and (math.floor(spec.cpu_shares * 1000 / 1024) .. "m") or nil } }
          if next(container.resources.limits) == nil then container.resources.limits = nil end
          if next(container.resources.requests) == nil then container.resources.requests = nil end
        end
        local hc = s.healthcheck
        if hc and type(hc.test) ~= "function" then
          local argv = health_argv { test = hc.test }
          container.readinessProbe = ordered({
            exec = { command = argv },
            periodSeconds = math.max(1, math.ceil(hc.interval or project.defaults.health.interval)),
            timeoutSeconds = math.max(1, math.ceil(hc.timeout or project.defaults.health.timeout)),
            failureThreshold = hc.retries or project.defaults.health.retries,
            initialDelaySeconds = hc.start_period and math.ceil(hc.start_period) or nil,
          }, { "exec", "periodSeconds", "timeoutSeconds", "failureThreshold", "initialDelaySeconds" })
        end
        local pod = ordered({ containers = { container } }, { "restartPolicy", "containers", "volumes" })
        if #volumes > 0 then pod.volumes = volumes end
        local meta = { name = kube_name(g.name), labels = labels }
        local template_meta = ordered({ labels = labels, annotations = annotations }, { "labels", "annotations" })
        if s.job then
          pod.restartPolicy = (spec.restart or ""):match("^on%-failure") and "OnFailure" or "Never"
          doc(ordered({ apiVersion = "batch/v1", kind = "Job", metadata = meta,
            spec = ordered({ backoffLimit = 0, template = ordered({ metadata = template_meta, spec = pod }, { "metadata", "spec" }) },
              { "backoffLimit", "template" }) }, { "apiVersion", "kind", "metadata", "spec" }))
        else
          doc(ordered({ apiVersion = "apps/v1", kind = "Deployment", metadata = meta,
            spec = ordered({ replicas = g.count, selector = { matchLabels = { app = labels.app } },
              template = ordered({ metadata = template_meta, spec = pod }, { "metadata", "spec" }) },
              { "replicas", "selector", "template" }) }, { "apiVersion", "kind", "metadata", "spec" }))
        end
        if #ports > 0 then
          local sp = {}
          for _, p in ipairs(ports) do
            sp[#sp + 1] = ordered({ name = ("%s-%d"):format(p.protocol:lower(), p.containerPort), port = p.containerPort,
              targetPort = p.containerPort, protocol = p.protocol }, { "name", "port", "targetPort", "protocol" })
          end
          doc(ordered({ apiVersion = "v1", kind = "Service", metadata = { name = kube_name(g.name), labels = { ["bocker.project"] = label_value(self.name) } },
            spec = ordered({ selector = { app = labels.app }, ports = sp }, { "selector", "ports" }) },
            { "apiVersion", "kind", "metadata", "spec" }))
        end
      end
    end
  end
  return "# Generated by bocker.project from " .. self.script .. " (project " .. self.name .. ").\n"
    .. "# Service names resolve through the Services below; depends_on and tasks have no Kubernetes form.\n"
    .. table.concat(docs, "\n---\n") .. "\n"
end

return Project
