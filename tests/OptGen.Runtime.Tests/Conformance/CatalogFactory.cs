using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.Json;

namespace OptGen.Runtime.Tests.Conformance;

/// <summary>
/// A catalog optimizer chosen for a conformance case: the type (the attribute declaration a user gets), the
/// hyperparameter properties to set, and the property that a step's learning rate replaces.
/// </summary>
/// <param name="Type">The catalog type, e.g. <see cref="AdamAmsGrad"/>.</param>
/// <param name="Settings">Property name → value, applied through <see cref="Optimizer"/>'s indexer (booleans as 0/1).</param>
/// <param name="LearningRateProperty">The property that <c>lr_per_step</c> overrides (η, η′ or η₀: always <c>LearningRate</c>).</param>
public sealed record CatalogConfiguration(Type Type, IReadOnlyList<KeyValuePair<string, double>> Settings, string LearningRateProperty)
{
    /// <summary>Creates the optimizer for <paramref name="length"/> parameters with every setting applied and its state initialized from them.</summary>
    public Optimizer Create(int length) => Create(ParameterLayout.Single(length));

    /// <summary>Creates the optimizer for the tensors of <paramref name="layout"/> with every setting applied and its state initialized from them.</summary>
    public Optimizer Create(ParameterLayout layout)
    {
        var optimizer = (Optimizer)Activator.CreateInstance(Type, layout)!;
        foreach (KeyValuePair<string, double> setting in Settings)
        {
            optimizer[setting.Key] = setting.Value;
        }

        // Some hyperparameters (Adagrad's initial accumulator value) are read when the state is initialized.
        optimizer.Reset();
        return optimizer;
    }
}

/// <summary>
/// The one mapping from SCHEMA.md's vocabulary — torch.optim names and keys, and the lecture forms — to OptGen's
/// catalog types and their properties. A name or key it does not know is an error, never ignored. torch.optim flags
/// that change the rule's structure (amsgrad, centered, momentum, nesterov) select a catalog variant; every
/// numeric argument becomes a property.
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

    /// <summary>Maps a case's optimizer and hyperparameters to a catalog type and property values.</summary>
    /// <exception cref="ArgumentException">The name or a key is unknown, a value has the wrong type, or the combination is one torch.optim rejects.</exception>
    public static CatalogConfiguration Describe(string optimizer, IReadOnlyDictionary<string, JsonElement> hyperparameters)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentNullException.ThrowIfNull(hyperparameters);
        var h = new Keys(optimizer, hyperparameters);
        CatalogConfiguration configuration = optimizer switch
        {
            "SGD" => Sgd(h),
            "Adam" => AdamLike(h, h.Bool("amsgrad", false) ? typeof(AdamAmsGrad) : typeof(Adam), 0),
            "AdamW" => AdamLike(h, h.Bool("amsgrad", false) ? typeof(AdamWAmsGrad) : typeof(AdamW), 1e-2),
            "RMSprop" => RmsProp(h),
            "Adagrad" => h.Build(typeof(Adagrad), ("LearningRate", h.Double("lr", 1e-2)), ("LearningRateDecay", h.Double("lr_decay", 0)),
                ("WeightDecay", h.Double("weight_decay", 0)), ("InitialAccumulatorValue", h.Double("initial_accumulator_value", 0)),
                ("Epsilon", h.Double("eps", 1e-10)), ("Maximize", h.Flag("maximize"))),
            "Adamax" => h.Build(typeof(Adamax), Betas(h, 2e-3, 1e-8).Concat([("WeightDecay", h.Double("weight_decay", 0)), ("Maximize", h.Flag("maximize"))]).ToArray()),
            "NAdam" => h.Build(typeof(NAdam), Betas(h, 2e-3, 1e-8).Concat([("WeightDecay", h.Double("weight_decay", 0)),
                ("MomentumDecay", h.Double("momentum_decay", 4e-3)), ("Maximize", h.Flag("maximize"))]).ToArray()),
            "RAdam" => h.Build(typeof(RAdam), Betas(h, 1e-3, 1e-8).Concat([("WeightDecay", h.Double("weight_decay", 0)), ("Maximize", h.Flag("maximize"))]).ToArray()),
            "Adadelta" => h.Build(typeof(Adadelta), ("LearningRate", h.Double("lr", 1.0)), ("Rho", h.Double("rho", 0.9)),
                ("Epsilon", h.Double("eps", 1e-6)), ("WeightDecay", h.Double("weight_decay", 0)), ("Maximize", h.Flag("maximize"))),
            "classic_momentum" => h.Build(typeof(ClassicMomentum), ("Momentum", Decay(h, "N")), ("LearningRate", h.Double("eta"))),
            "ema_momentum" => h.Build(typeof(EmaMomentum), ("Beta1", Decay(h, "N")), ("LearningRate", h.Double("eta_prime"))),
            "rmsprop_eps_inside" => h.Build(typeof(RmsPropEpsilonInside), ("Beta2", Decay(h, "Ns")), ("LearningRate", h.Double("eta")), ("Epsilon", h.Double("eps"))),
            "rmsprop_eps_outside" => h.Build(typeof(RmsPropEpsilonOutside), ("Beta2", Decay(h, "Ns")), ("LearningRate", h.Double("eta")), ("Epsilon", h.Double("eps"))),
            "adam_min_t" => h.Build(typeof(AdamMinT), ("Beta1", Decay(h, "Ng")), ("Beta2", Decay(h, "Ns")), ("LearningRate", h.Double("eta")), ("Epsilon", h.Double("eps"))),
            "adam_decoupled_eps" => h.Build(typeof(AdamDecoupledEpsilon), ("Beta1", Decay(h, "Ng")), ("Beta2", Decay(h, "Ns")), ("LearningRate", h.Double("eta0")), ("Epsilon", h.Double("eps"))),
            "adagrad_rms" => h.Build(typeof(AdagradRms), ("LearningRate", h.Double("eta"))),
            "rmsprop_alpha" => h.Build(typeof(RmsPropAlpha), ("Alpha", h.Double("alpha")), ("LearningRate", h.Double("eta"))),
            "lamb" => h.Build(typeof(Lamb), Betas(h, 1e-3, 1e-6).Concat([("WeightDecay", h.Double("weight_decay", 0))]).ToArray()),
            "lars" => h.Build(typeof(Lars), ("LearningRate", h.Double("lr")), ("Momentum", h.Double("momentum", 0.9)),
                ("WeightDecay", h.Double("weight_decay", 0)), ("TrustCoefficient", h.Double("trust_coefficient", 0.001))),
            "adafactor" => Adafactor(h),
            "adam_mini" => h.Build(typeof(AdamMini), Betas(h, 1e-3, 1e-8).Concat([("WeightDecay", h.Double("weight_decay", 0)), ("BlockSize", h.Double("block", 0))]).ToArray()),
            "adamw_schedulefree" => h.Build(typeof(AdamWScheduleFree), Betas(h, 0.0025, 1e-8).Concat([("WeightDecay", h.Double("weight_decay", 0)),
                ("WarmupSteps", h.Double("warmup_steps", 0)), ("R", h.Double("r", 0)), ("WeightLrPower", h.Double("weight_lr_power", 2))]).ToArray()),
            _ => throw new ArgumentException($"Unknown optimizer '{optimizer}'; known: {string.Join(", ", Names)}.", nameof(optimizer)),
        };
        h.RejectUnused();
        return configuration;
    }

    /// <summary>Creates the catalog optimizer for a case, with its hyperparameters applied.</summary>
    public static Optimizer Create(ConformanceCase c) => Describe(c.Optimizer, c.Hyperparameters).Create(CaseTensors.Read(c).Layout);

    private static CatalogConfiguration Sgd(Keys h)
    {
        double lr = h.Double("lr");
        double momentum = h.Double("momentum", 0);
        double dampening = h.Double("dampening", 0);
        double weightDecay = h.Double("weight_decay", 0);
        bool nesterov = h.Bool("nesterov", false);
        double maximize = h.Flag("maximize");
        if (nesterov && (momentum <= 0 || dampening != 0))
        {
            throw new ArgumentException("SGD: Nesterov momentum requires a momentum and zero dampening (torch.optim.SGD rejects it too).", "nesterov");
        }

        if (nesterov)
        {
            return h.Build(typeof(SgdNesterov), ("LearningRate", lr), ("Momentum", momentum), ("WeightDecay", weightDecay), ("Maximize", maximize));
        }

        // torch.optim.SGD ignores dampening without momentum.
        return momentum != 0
            ? h.Build(typeof(SgdMomentum), ("LearningRate", lr), ("Momentum", momentum), ("Dampening", dampening), ("WeightDecay", weightDecay), ("Maximize", maximize))
            : h.Build(typeof(OptGen.Sgd), ("LearningRate", lr), ("WeightDecay", weightDecay), ("Maximize", maximize));
    }

    /// <summary>torch.optim.Adafactor: <c>eps</c> is [ε₁ or null, ε₂]; null is float32's machine epsilon, as PyTorch.</summary>
    private static CatalogConfiguration Adafactor(Keys h)
    {
        (double? eps1, double eps2) = h.NullablePair("eps", (null, 1e-3));
        return h.Build(typeof(OptGen.Adafactor), ("LearningRate", h.Double("lr", 1e-2)), ("Beta2Decay", h.Double("beta2_decay", -0.8)),
            ("Epsilon1", eps1 ?? OptGen.Adafactor.Float32Epsilon), ("Epsilon2", eps2), ("ClipThreshold", h.Double("d", 1.0)),
            ("WeightDecay", h.Double("weight_decay", 0)), ("Maximize", h.Flag("maximize")));
    }

    private static CatalogConfiguration AdamLike(Keys h, Type type, double defaultWeightDecay) =>
        h.Build(type, Betas(h, 1e-3, 1e-8).Concat([("WeightDecay", h.Double("weight_decay", defaultWeightDecay)), ("Maximize", h.Flag("maximize"))]).ToArray());

    private static CatalogConfiguration RmsProp(Keys h)
    {
        bool centered = h.Bool("centered", false);
        double momentum = h.Double("momentum", 0);
        var settings = new List<(string, double)>
        {
            ("LearningRate", h.Double("lr", 1e-2)),
            ("Alpha", h.Double("alpha", 0.99)),
            ("Epsilon", h.Double("eps", 1e-8)),
            ("WeightDecay", h.Double("weight_decay", 0)),
            ("Maximize", h.Flag("maximize")),
        };
        if (momentum != 0)
        {
            settings.Add(("Momentum", momentum));
        }

        Type type = (centered, momentum != 0) switch
        {
            (false, false) => typeof(OptGen.RmsProp),
            (true, false) => typeof(RmsPropCentered),
            (false, true) => typeof(RmsPropMomentum),
            (true, true) => typeof(RmsPropCenteredMomentum),
        };
        return h.Build(type, settings.ToArray());
    }

    private static IEnumerable<(string, double)> Betas(Keys h, double lr, double eps)
    {
        (double beta1, double beta2) = h.Pair("betas", (0.9, 0.999));
        return [("LearningRate", h.Double("lr", lr)), ("Beta1", beta1), ("Beta2", beta2), ("Epsilon", h.Double("eps", eps))];
    }

    /// <summary>The lecture's length N as a decay: β = 1 − 1/N.</summary>
    private static double Decay(Keys h, string key)
    {
        double n = h.Double(key);
        if (!(n >= 1) || double.IsInfinity(n))
        {
            throw new ArgumentException($"{h.Optimizer}: '{key}' must be a length >= 1, but is {n}.", key);
        }

        return 1 - (1 / n);
    }

    /// <summary>Reads keys and remembers which were read, so that any other key is reported.</summary>
    private sealed class Keys(string optimizer, IReadOnlyDictionary<string, JsonElement> values)
    {
        private readonly HashSet<string> _read = new(StringComparer.Ordinal);

        public string Optimizer => optimizer;

        /// <summary>A number; without a default the key is required.</summary>
        public double Double(string key, double? defaultValue = null)
        {
            _read.Add(key);
            if (!values.TryGetValue(key, out JsonElement value))
            {
                return defaultValue ?? throw new ArgumentException($"{optimizer}: the hyperparameter '{key}' is required.", key);
            }

            return value.ValueKind == JsonValueKind.Number
                ? value.GetDouble()
                : throw new ArgumentException($"{optimizer}: '{key}' must be a number, but is {value.GetRawText()}.", key);
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
                _ => throw new ArgumentException($"{optimizer}: '{key}' must be true or false, but is {value.GetRawText()}.", key),
            };
        }

        /// <summary>A boolean as the 0/1 a Boolean hyperparameter stores.</summary>
        public double Flag(string key) => Bool(key, false) ? 1 : 0;

        public (double, double) Pair(string key, (double, double) defaultValue)
        {
            _read.Add(key);
            if (!values.TryGetValue(key, out JsonElement value))
            {
                return defaultValue;
            }

            double[] items = value.ValueKind == JsonValueKind.Array && value.EnumerateArray().All(e => e.ValueKind == JsonValueKind.Number)
                ? value.EnumerateArray().Select(e => e.GetDouble()).ToArray()
                : [];
            return items.Length == 2
                ? (items[0], items[1])
                : throw new ArgumentException($"{optimizer}: '{key}' must be a list of two numbers, but is {value.GetRawText()}.", key);
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
            if (items.Length != 2 || items[0].ValueKind is not (JsonValueKind.Number or JsonValueKind.Null) || items[1].ValueKind != JsonValueKind.Number)
            {
                throw new ArgumentException($"{optimizer}: '{key}' must be a list [number or null, number], but is {value.GetRawText()}.", key);
            }

            return (items[0].ValueKind == JsonValueKind.Null ? null : items[0].GetDouble(), items[1].GetDouble());
        }

        public CatalogConfiguration Build(Type type, params (string Property, double Value)[] settings) =>
            new(type, settings.Select(s => new KeyValuePair<string, double>(s.Property, s.Value)).ToArray(), "LearningRate");

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
