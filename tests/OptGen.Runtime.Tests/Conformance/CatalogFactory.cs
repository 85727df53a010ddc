using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text.Json;

namespace OptGen.Runtime.Tests.Conformance;

/// <summary>One catalog property to set, with the case's hyperparameter key it comes from (for error messages).</summary>
/// <param name="Property">The property name, set through <see cref="Optimizer"/>'s indexer (booleans as 0/1).</param>
/// <param name="Value">The value.</param>
/// <param name="Key">The case's key (<c>lr</c>, <c>betas</c>, <c>N</c>, …) the value was read from.</param>
public sealed record CatalogSetting(string Property, double Value, string Key);

/// <summary>
/// A catalog optimizer chosen for a conformance case: the type (the attribute declaration a user gets), the
/// hyperparameter properties to set, and the property that a step's learning rate replaces.
/// </summary>
/// <param name="Type">The catalog type, e.g. <see cref="AdamAmsGrad"/>.</param>
/// <param name="Settings">The properties to set, in order.</param>
/// <param name="LearningRateProperty">The property that <c>lr_per_step</c> overrides (η, η′ or η₀: always <c>LearningRate</c>).</param>
public sealed record CatalogConfiguration(Type Type, IReadOnlyList<CatalogSetting> Settings, string LearningRateProperty)
{
    /// <summary>Creates the optimizer for <paramref name="length"/> parameters with every setting applied and its state initialized from them.</summary>
    public Optimizer Create(int length) => Create(ParameterLayout.Single(length));

    /// <summary>Creates the optimizer for the tensors of <paramref name="layout"/> with every setting applied and its state initialized from them.</summary>
    /// <exception cref="ArgumentException">OptGen refuses a value (e.g. ε = 0, which its ranges exclude); the message names the case's key.</exception>
    public Optimizer Create(ParameterLayout layout)
    {
        var optimizer = (Optimizer)Activator.CreateInstance(Type, layout)!;
        foreach (CatalogSetting setting in Settings)
        {
            try
            {
                optimizer[setting.Property] = setting.Value;
            }
            catch (ArgumentException error)
            {
                throw new ArgumentException(
                    string.Create(CultureInfo.InvariantCulture, $"{Type.Name}: the hyperparameter '{setting.Key}' sets {setting.Property} = {setting.Value:R}, which OptGen refuses: {error.Message}"),
                    setting.Key,
                    error);
            }
        }

        // Some hyperparameters (Adagrad's initial accumulator value) are read when the state is initialized.
        optimizer.Reset();
        return optimizer;
    }
}

/// <summary>
/// The one mapping from SCHEMA.md's vocabulary — torch.optim names and keys, and the lecture forms — to OptGen's
/// catalog types and their properties. A name or key it does not know is an error, never ignored. torch.optim flags
/// that change the rule's structure (amsgrad, centered, momentum, nesterov, decoupled_weight_decay) select a catalog
/// variant; every numeric argument becomes a property. A missing key takes PyTorch 2.x's default (SGD's lr: 1e-3, as
/// in PyTorch since 2.2). torch.optim's implementation switches (foreach, fused, capturable, differentiable), which
/// choose a code path and not the math, are accepted as true, false or null and change nothing: OptGen always runs
/// one fused pass.
/// </summary>
public static class CatalogFactory
{
    /// <summary>The optimizer names this factory knows.</summary>
    public static IReadOnlyList<string> Names { get; } =
    [
        "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adamax", "NAdam", "RAdam", "Adadelta",
        "classic_momentum", "ema_momentum", "rmsprop_eps_inside", "rmsprop_eps_outside", "adam_min_t",
        "adam_decoupled_eps", "adagrad_rms", "rmsprop_alpha",
        "lamb", "lars", "adafactor", "adam_mini", "adamw_schedulefree",
    ];

    /// <summary>
    /// The names whose catalog rule has no GPU passes (<c>GpuOptimizer</c> would reject it), run on the CPU backend
    /// only: none today (every rule with reductions has its device passes, docs/gpu.md).
    /// </summary>
    public static IReadOnlyList<string> CpuOnlyNames { get; } = [];

    /// <summary>torch.optim's switches that choose an implementation, not the math: accepted (true, false or null) and ignored.</summary>
    public static IReadOnlyList<string> ImplementationKeys { get; } = ["foreach", "fused", "capturable", "differentiable"];

    /// <summary>Maps a case's optimizer and hyperparameters to a catalog type and property values.</summary>
    /// <exception cref="ArgumentException">The name or a key is unknown, a value has the wrong type, or the combination is one torch.optim rejects or OptGen's catalog lacks.</exception>
    public static CatalogConfiguration Describe(string optimizer, IReadOnlyDictionary<string, JsonElement> hyperparameters)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentNullException.ThrowIfNull(hyperparameters);
        var h = new Keys(optimizer, hyperparameters);
        CatalogConfiguration configuration = optimizer switch
        {
            "SGD" => Sgd(h),
            "Adam" or "AdamW" => AdamLike(h),
            "RMSprop" => RmsProp(h),
            "Adagrad" => h.Build(typeof(Adagrad), h.Number("LearningRate", "lr", 1e-2), h.Number("LearningRateDecay", "lr_decay", 0),
                h.Number("WeightDecay", "weight_decay", 0), h.Number("InitialAccumulatorValue", "initial_accumulator_value", 0),
                h.Number("Epsilon", "eps", 1e-10), h.Flag("Maximize", "maximize")),
            "Adamax" => h.Build(typeof(Adamax), [.. Betas(h, 2e-3, 1e-8), h.Number("WeightDecay", "weight_decay", 0), h.Flag("Maximize", "maximize")]),
            "NAdam" => h.Build(h.Bool("decoupled_weight_decay", false) ? typeof(NAdamW) : typeof(NAdam),
                [.. Betas(h, 2e-3, 1e-8), h.Number("WeightDecay", "weight_decay", 0), h.Number("MomentumDecay", "momentum_decay", 4e-3), h.Flag("Maximize", "maximize")]),
            "RAdam" => h.Build(h.Bool("decoupled_weight_decay", false) ? typeof(RAdamW) : typeof(RAdam),
                [.. Betas(h, 1e-3, 1e-8), h.Number("WeightDecay", "weight_decay", 0), h.Flag("Maximize", "maximize")]),
            "Adadelta" => h.Build(typeof(Adadelta), h.Number("LearningRate", "lr", 1.0), h.Number("Rho", "rho", 0.9),
                h.Number("Epsilon", "eps", 1e-6), h.Number("WeightDecay", "weight_decay", 0), h.Flag("Maximize", "maximize")),
            "classic_momentum" => h.Build(typeof(ClassicMomentum), Decay(h, "Momentum", "N"), h.Number("LearningRate", "eta")),
            "ema_momentum" => h.Build(typeof(EmaMomentum), Decay(h, "Beta1", "N"), h.Number("LearningRate", "eta_prime")),
            "rmsprop_eps_inside" => h.Build(typeof(RmsPropEpsilonInside), Decay(h, "Beta2", "Ns"), h.Number("LearningRate", "eta"), h.Number("Epsilon", "eps")),
            "rmsprop_eps_outside" => h.Build(typeof(RmsPropEpsilonOutside), Decay(h, "Beta2", "Ns"), h.Number("LearningRate", "eta"), h.Number("Epsilon", "eps")),
            "adam_min_t" => h.Build(typeof(AdamMinT), Decay(h, "Beta1", "Ng"), Decay(h, "Beta2", "Ns"), h.Number("LearningRate", "eta"), h.Number("Epsilon", "eps")),
            "adam_decoupled_eps" => h.Build(typeof(AdamDecoupledEpsilon), Decay(h, "Beta1", "Ng"), Decay(h, "Beta2", "Ns"), h.Number("LearningRate", "eta0"), h.Number("Epsilon", "eps")),
            "adagrad_rms" => h.Build(typeof(AdagradRms), h.Number("LearningRate", "eta")),
            "rmsprop_alpha" => h.Build(typeof(RmsPropAlpha), h.Number("Alpha", "alpha"), h.Number("LearningRate", "eta")),
            "lamb" => h.Build(typeof(Lamb), [.. Betas(h, 1e-3, 1e-6), h.Number("WeightDecay", "weight_decay", 0)]),
            "lars" => h.Build(typeof(Lars), h.Number("LearningRate", "lr"), h.Number("Momentum", "momentum", 0.9),
                h.Number("WeightDecay", "weight_decay", 0), h.Number("TrustCoefficient", "trust_coefficient", 0.001)),
            "adafactor" => Adafactor(h),
            "adam_mini" => h.Build(typeof(AdamMini), [.. Betas(h, 1e-3, 1e-8), h.Number("WeightDecay", "weight_decay", 0), AdamMiniBlock(h)]),
            "adamw_schedulefree" => h.Build(typeof(AdamWScheduleFree), [.. Betas(h, 0.0025, 1e-8), h.Number("WeightDecay", "weight_decay", 0),
                h.Number("WarmupSteps", "warmup_steps", 0), h.Number("R", "r", 0), h.Number("WeightLrPower", "weight_lr_power", 2)]),
            _ => throw new ArgumentException($"Unknown optimizer '{optimizer}'; known: {string.Join(", ", Names)}.", nameof(optimizer)),
        };
        if (IsTorchOptim(optimizer))
        {
            h.AcceptImplementationSwitches();
        }

        h.RejectUnused();
        return configuration;
    }

    /// <summary>Creates the catalog optimizer for a case, with its hyperparameters applied.</summary>
    public static Optimizer Create(ConformanceCase c) => Describe(c.Optimizer, c.Hyperparameters).Create(CaseTensors.Read(c).Layout);

    /// <summary>Whether the name is a torch.optim class (whose implementation switches are accepted).</summary>
    private static bool IsTorchOptim(string optimizer) => optimizer == "adafactor" || (optimizer.Length > 0 && char.IsUpper(optimizer[0]));

    private static CatalogConfiguration Sgd(Keys h)
    {
        CatalogSetting lr = h.Number("LearningRate", "lr", 1e-3);
        CatalogSetting momentum = h.Number("Momentum", "momentum", 0);
        CatalogSetting dampening = h.Number("Dampening", "dampening", 0);
        CatalogSetting weightDecay = h.Number("WeightDecay", "weight_decay", 0);
        bool nesterov = h.Bool("nesterov", false);
        CatalogSetting maximize = h.Flag("Maximize", "maximize");
        if (nesterov && (momentum.Value <= 0 || dampening.Value != 0))
        {
            throw new ArgumentException("SGD: Nesterov momentum requires a momentum and zero dampening (torch.optim.SGD rejects it too).", "nesterov");
        }

        if (nesterov)
        {
            return h.Build(typeof(SgdNesterov), lr, momentum, weightDecay, maximize);
        }

        // torch.optim.SGD ignores dampening without momentum.
        return momentum.Value != 0
            ? h.Build(typeof(SgdMomentum), lr, momentum, dampening, weightDecay, maximize)
            : h.Build(typeof(OptGen.Sgd), lr, weightDecay, maximize);
    }

    /// <summary>torch.optim.Adafactor: <c>eps</c> is [ε₁ or null, ε₂]; null is float32's machine epsilon, as PyTorch.</summary>
    private static CatalogConfiguration Adafactor(Keys h)
    {
        (double? eps1, double eps2) = h.NullablePair("eps", (null, 1e-3));
        return h.Build(typeof(OptGen.Adafactor), h.Number("LearningRate", "lr", 1e-2), h.Number("Beta2Decay", "beta2_decay", -0.8),
            new("Epsilon1", eps1 ?? OptGen.Adafactor.Float32Epsilon, "eps"), new("Epsilon2", eps2, "eps"), h.Number("ClipThreshold", "d", 1.0),
            h.Number("WeightDecay", "weight_decay", 0), h.Flag("Maximize", "maximize"));
    }

    /// <summary>
    /// Adam and AdamW. PyTorch 2.7+ gives Adam a <c>decoupled_weight_decay</c> switch (AdamW is Adam with it on), so
    /// the switch picks the decoupled type; the default weight decay stays the name's (0 for Adam, 1e-2 for AdamW).
    /// </summary>
    private static CatalogConfiguration AdamLike(Keys h)
    {
        bool adamW = h.Optimizer == "AdamW";
        bool decoupled = h.Bool("decoupled_weight_decay", adamW);
        bool amsGrad = h.Bool("amsgrad", false);
        Type type = (decoupled, amsGrad) switch
        {
            (false, false) => typeof(Adam),
            (false, true) => typeof(AdamAmsGrad),
            (true, false) => typeof(AdamW),
            (true, true) => typeof(AdamWAmsGrad),
        };
        return h.Build(type, [.. Betas(h, 1e-3, 1e-8), h.Number("WeightDecay", "weight_decay", adamW ? 1e-2 : 0), h.Flag("Maximize", "maximize")]);
    }

    private static CatalogConfiguration RmsProp(Keys h)
    {
        bool centered = h.Bool("centered", false);
        CatalogSetting momentum = h.Number("Momentum", "momentum", 0);
        var settings = new List<CatalogSetting>
        {
            h.Number("LearningRate", "lr", 1e-2),
            h.Number("Alpha", "alpha", 0.99),
            h.Number("Epsilon", "eps", 1e-8),
            h.Number("WeightDecay", "weight_decay", 0),
            h.Flag("Maximize", "maximize"),
        };
        if (momentum.Value != 0)
        {
            settings.Add(momentum);
        }

        Type type = (centered, momentum.Value != 0) switch
        {
            (false, false) => typeof(OptGen.RmsProp),
            (true, false) => typeof(RmsPropCentered),
            (false, true) => typeof(RmsPropMomentum),
            (true, true) => typeof(RmsPropCenteredMomentum),
        };
        return h.Build(type, [.. settings]);
    }

    private static CatalogSetting[] Betas(Keys h, double lr, double eps)
    {
        (double beta1, double beta2) = h.Pair("betas", (0.9, 0.999));
        return [h.Number("LearningRate", "lr", lr), new("Beta1", beta1, "betas"), new("Beta2", beta2, "betas"), h.Number("Epsilon", "eps", eps)];
    }

    /// <summary>
    /// Adam-mini's <c>block</c>: required, a whole number ≥ 1 (SCHEMA: blocks of <c>block</c> consecutive elements; it
    /// gives no default). OptGen's <see cref="AdamMini.BlockSize"/> 0 (one block per row) is not SCHEMA's, so a case
    /// without the key would run another rule.
    /// </summary>
    private static CatalogSetting AdamMiniBlock(Keys h)
    {
        CatalogSetting block = h.Number("BlockSize", "block");
        return block.Value >= 1 && Math.Floor(block.Value) == block.Value
            ? block
            : throw new ArgumentException($"{h.Optimizer}: 'block' must be a whole number of elements >= 1, but is {block.Value:R}.", "block");
    }

    /// <summary>The lecture's length N as a decay: β = 1 − 1/N.</summary>
    private static CatalogSetting Decay(Keys h, string property, string key)
    {
        double n = h.Number(property, key).Value;
        if (!(n >= 1) || double.IsInfinity(n))
        {
            throw new ArgumentException($"{h.Optimizer}: '{key}' must be a length >= 1, but is {n}.", key);
        }

        return new(property, 1 - (1 / n), key);
    }

    /// <summary>Reads keys and remembers which were read, so that any other key is reported.</summary>
    private sealed class Keys(string optimizer, IReadOnlyDictionary<string, JsonElement> values)
    {
        private readonly HashSet<string> _read = new(StringComparer.Ordinal);

        public string Optimizer => optimizer;

        /// <summary>The property <paramref name="property"/> from the number under <paramref name="key"/>; without a default the key is required.</summary>
        public CatalogSetting Number(string property, string key, double? defaultValue = null)
        {
            _read.Add(key);
            if (!values.TryGetValue(key, out JsonElement value))
            {
                return new(property, defaultValue ?? throw new ArgumentException($"{optimizer}: the hyperparameter '{key}' is required.", key), key);
            }

            return Finite(value, out double number)
                ? new(property, number, key)
                : throw new ArgumentException($"{optimizer}: '{key}' must be a finite JSON number, but is {ConformanceCase.Show(value)}.", key);
        }

        public bool Bool(string key, bool defaultValue)
        {
            _read.Add(key);
            if (!values.TryGetValue(key, out JsonElement value))
            {
                return defaultValue;
            }

            return value.ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                _ => throw new ArgumentException($"{optimizer}: '{key}' must be true or false, but is {ConformanceCase.Show(value)}.", key),
            };
        }

        /// <summary>A boolean as the 0/1 a Boolean hyperparameter stores.</summary>
        public CatalogSetting Flag(string property, string key) => new(property, Bool(key, false) ? 1 : 0, key);

        public (double, double) Pair(string key, (double, double) defaultValue)
        {
            _read.Add(key);
            if (!values.TryGetValue(key, out JsonElement value))
            {
                return defaultValue;
            }

            double[] items = value.ValueKind == JsonValueKind.Array && value.EnumerateArray().All(e => Finite(e, out _))
                ? value.EnumerateArray().Select(e => e.GetDouble()).ToArray()
                : [];
            return items.Length == 2
                ? (items[0], items[1])
                : throw new ArgumentException($"{optimizer}: '{key}' must be a list of two finite numbers, but is {ConformanceCase.Show(value)}.", key);
        }

        /// <summary>A list of two values, the first a number or null.</summary>
        public (double?, double) NullablePair(string key, (double?, double) defaultValue)
        {
            _read.Add(key);
            if (!values.TryGetValue(key, out JsonElement value))
            {
                return defaultValue;
            }

            JsonElement[] items = value.ValueKind == JsonValueKind.Array ? value.EnumerateArray().ToArray() : [];
            if (items.Length != 2 || !(items[0].ValueKind == JsonValueKind.Null || Finite(items[0], out _)) || !Finite(items[1], out _))
            {
                throw new ArgumentException($"{optimizer}: '{key}' must be a list [number or null, number], but is {ConformanceCase.Show(value)}.", key);
            }

            return (items[0].ValueKind == JsonValueKind.Null ? null : items[0].GetDouble(), items[1].GetDouble());
        }

        /// <summary>Reads <see cref="ImplementationKeys"/>: each may be absent, true, false or null, and changes nothing.</summary>
        public void AcceptImplementationSwitches()
        {
            foreach (string key in ImplementationKeys)
            {
                _read.Add(key);
                if (values.TryGetValue(key, out JsonElement value) && value.ValueKind is not (JsonValueKind.True or JsonValueKind.False or JsonValueKind.Null))
                {
                    throw new ArgumentException($"{optimizer}: '{key}' must be true, false or null, but is {ConformanceCase.Show(value)}.", key);
                }
            }
        }

        /// <summary>A JSON number that is finite in double (1e400 is not, nor Python's NaN and Infinity).</summary>
        private static bool Finite(JsonElement value, out double number)
        {
            number = 0;
            return value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out number) && double.IsFinite(number);
        }

        public CatalogConfiguration Build(Type type, params CatalogSetting[] settings) => new(type, settings, "LearningRate");

        public void RejectUnused()
        {
            string[] unknown = values.Keys.Where(k => !_read.Contains(k)).Order(StringComparer.Ordinal).ToArray();
            if (unknown.Length > 0)
            {
                throw new ArgumentException($"{optimizer}: unknown hyperparameter{(unknown.Length > 1 ? "s" : string.Empty)} {string.Join(", ", unknown.Select(k => $"'{k}'"))}.", nameof(values));
            }
        }
    }
}
