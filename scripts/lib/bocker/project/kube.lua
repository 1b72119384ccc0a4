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

local function kube_name(s)
  return (s:lower():gsub("[^a-z0-9-]", "-"))
end

--- Kubernetes objects for the project: a Deployment (a Job for jobs) and a Service (when it
--- publishes ports) per service, a PersistentVolumeClaim per named volume. Returns YAML text.
function Project:kube()
  self:plan { images = false }
  local docs = {}
  local function doc(t) docs[#docs + 1] = table.concat(yaml(t), "\n") end
  for _, name in ipairs(self.volume_order) do
    local v = self.volumes[name]
    doc(ordered({
      apiVersion = "v1", kind = "PersistentVolumeClaim",
      metadata = { name = kube_name(v.real), labels = { ["bocker.project"] = self.name } },
      spec = { accessModes = { "ReadWriteOnce" }, resources = { requests = { storage = "1Gi" } } },
    }, { "apiVersion", "kind", "metadata", "spec" }))
  end
  for _, s in ipairs(self.order) do
    if s.kind == "service" and #s.specs > 0 then
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
        local labels = { app = kube_name(g.name), ["bocker.project"] = self.name, ["bocker.service"] = s.name }
        for k, v in pairs(spec.labels or {}) do labels[k] = v end
        local container = { __order = { "name", "image", "command", "args", "workingDir", "env", "ports", "volumeMounts", "resources", "readinessProbe" } }
        container.name = kube_name(s.name)
        container.image = s.def.kube_image or s.def.image or "IMAGE"
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
        local ports = {}
        for _, p in ipairs(spec.ports or {}) do
          local cport, proto = p:match(":(%d+)/?(%a*)$")
          if cport then
            ports[#ports + 1] = ordered({ containerPort = tonumber(cport), protocol = (proto ~= "" and proto or "tcp"):upper() },
              { "containerPort", "protocol" })
          end
        end
        if #ports > 0 then container.ports = ports end
        local volumes, mounts = {}, {}
        for k, vol in ipairs(spec.volumes or {}) do
          local src, dst, mode = vol:match("^([^:]+):([^:]+):?(.*)$")
          if dst ~= "/etc/hosts" then
            local vname = "vol-" .. k
            if src:sub(1, 1) == "/" then
              volumes[#volumes + 1] = { name = vname, hostPath = { path = src } }
            else
              volumes[#volumes + 1] = { name = vname, persistentVolumeClaim = { claimName = kube_name(src) } }
            end
            mounts[#mounts + 1] = ordered({ name = vname, mountPath = dst, readOnly = mode == "ro" or nil },
              { "name", "mountPath", "readOnly" })
          end
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
        if s.job then
          pod.restartPolicy = (spec.restart or ""):match("^on%-failure") and "OnFailure" or "Never"
          doc(ordered({ apiVersion = "batch/v1", kind = "Job", metadata = meta,
            spec = ordered({ backoffLimit = 0, template = ordered({ metadata = { labels = labels }, spec = pod }, { "metadata", "spec" }) },
              { "backoffLimit", "template" }) }, { "apiVersion", "kind", "metadata", "spec" }))
        else
          doc(ordered({ apiVersion = "apps/v1", kind = "Deployment", metadata = meta,
            spec = ordered({ replicas = g.count, selector = { matchLabels = { app = labels.app } },
              template = ordered({ metadata = { labels = labels }, spec = pod }, { "metadata", "spec" }) },
              { "replicas", "selector", "template" }) }, { "apiVersion", "kind", "metadata", "spec" }))
        end
        if #ports > 0 then
          local sp = {}
          for _, p in ipairs(ports) do
            sp[#sp + 1] = ordered({ name = ("%s-%d"):format(p.protocol:lower(), p.containerPort), port = p.containerPort,
              targetPort = p.containerPort, protocol = p.protocol }, { "name", "port", "targetPort", "protocol" })
          end
          doc(ordered({ apiVersion = "v1", kind = "Service", metadata = { name = kube_name(g.name), labels = { ["bocker.project"] = self.name } },
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
