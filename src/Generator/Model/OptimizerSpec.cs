using OptGen.Generator.Helpers;

namespace OptGen.Generator.Model
{
    // The declared rule, normalized: `Beta = 0.9` and `Length = 10` give the same spec. Data only (no Roslyn
    // objects), so the incremental pipeline can compare it with the previous run's.

    // The enums (BiasCorrectionMode, EpsilonPlacement, MomentInput, SecondMomentKind, MomentStart, MomentumStyle)
    // are the runtime's own, compiled in from src/Runtime/Attributes/Enums.cs (see OptGen.Generator.csproj).

    /// <summary>Where the optimizer class is declared.</summary>
    /// <param name="Namespace">The namespace, or empty for the global namespace.</param>
    /// <param name="Name">The class name.</param>
    /// <param name="ContainingTypes">Declarations of the enclosing types, outermost first (e.g. <c>partial class Outer</c>).</param>
    /// <param name="HintName">A file-name-safe full name.</param>
    internal sealed record TypeDeclarationInfo(string Namespace, string Name, EquatableArray<string> ContainingTypes, string HintName)
    {
        public string FullName => (Namespace.Length == 0 ? string.Empty : Namespace + ".")
            + string.Concat(System.Linq.Enumerable.Select(ContainingTypes, c => c.Substring(c.LastIndexOf(' ') + 1) + ".")) + Name;
    }

    internal sealed record FirstMomentSpec(double Beta, MomentInput Input, MomentStart Start);

    internal sealed record SecondMomentSpec(
        double Beta,
        SecondMomentKind Kind,
        MomentStart Start,
        bool Centered,
        double InitialValue,
        bool HasInitialValue,
        double Power,
        string PropertyName)
    {
        /// <summary>What is averaged: g² or the batch mean of per-example squared gradients.</summary>
        public SecondMomentInput Input { get; init; }

        /// <summary>Over which elements the moment is shared (one per element unless declared; <see cref="MomentScope"/>).</summary>
        public MomentScope Scope { get; init; }

        /// <summary>The block length of <see cref="MomentScope.Block"/>; 0 otherwise.</summary>
        public int BlockLength { get; init; }
    }

    /// <summary>The units of the batch-dependent hyperparameters (<see cref="BatchUnits"/>): per step, or per example.</summary>
    internal sealed record BatchUnitsSpec(BatchUnits LearningRate, BatchUnits FirstMoment, BatchUnits SecondMoment, BatchUnits Momentum)
    {
        public static BatchUnitsSpec PerStep { get; } = new(BatchUnits.PerStep, BatchUnits.PerStep, BatchUnits.PerStep, BatchUnits.PerStep);
    }

    internal sealed record EpsilonSpec(double Value, EpsilonPlacement Placement, bool BeforeBiasCorrection);

    internal sealed record MomentumSpec(double Coefficient, double Dampening, bool Nesterov, MomentumStyle Style);

    internal sealed record WeightDecaySpec(double Value, bool Decoupled);

    /// <summary>NAdam's μₜ schedule: [NesterovMomentumDecay(ψ)].</summary>
    internal sealed record NesterovMomentumDecaySpec(double MomentumDecay);

    /// <summary>A layer-wise trust ratio: [TrustRatio(Form, Coefficient = κ, MaxRatio = bound)]; <paramref name="MaxRatio"/> null when unbounded.</summary>
    internal sealed record TrustRatioSpec(TrustRatioForm Form, double Coefficient, double? MaxRatio);

    /// <summary>RAdam's rectification: [Rectified(Threshold = ρ)].</summary>
    internal sealed record RectifiedSpec(double Threshold);

    /// <summary>One declared optimizer: where it is and the rule its attributes state.</summary>
    internal sealed record OptimizerSpec(
        TypeDeclarationInfo Type,
        string RuleName,
        double LearningRate,
        double LearningRateDecay,
        bool HasLearningRateDecay,
        FirstMomentSpec? FirstMoment,
        SecondMomentSpec? SecondMoment,
        BiasCorrectionMode BiasCorrection,
        EpsilonSpec? Epsilon,
        bool AmsGrad,
        MomentumSpec? Momentum,
        WeightDecaySpec? WeightDecay,
        bool Maximize)
    {
        /// <summary>NAdam's μₜ schedule, or null.</summary>
        public NesterovMomentumDecaySpec? NesterovMomentumDecay { get; init; }

        /// <summary>RAdam's rectification, or null.</summary>
        public RectifiedSpec? Rectified { get; init; }

        /// <summary>Adadelta's second accumulator of squared updates.</summary>
        public bool DeltaAccumulator { get; init; }

        /// <summary>The layer-wise trust ratio (LAMB, LARS), or null.</summary>
        public TrustRatioSpec? TrustRatio { get; init; }

        /// <summary>The units of the learning rate and the running-average lengths (per step unless declared per example).</summary>
        public BatchUnitsSpec Units { get; init; } = BatchUnitsSpec.PerStep;
    }
}
