using Microsoft.CodeAnalysis;

namespace OptGen.Generator.Diagnostics
{
    /// <summary>
    /// Every diagnostic the generator reports. IDs are stable; each is documented in docs/diagnostics.md and
    /// tracked in AnalyzerReleases.*.md. Errors stop emission for the offending class only.
    /// </summary>
    internal static class DiagnosticDescriptors
    {
        private const string Category = "OptGen";
        private const string HelpBase = "https://github.com/optgen/optgen/blob/main/docs/diagnostics.md#";

        /// <summary>Format: "The optimizer class '{0}' must be declared partial so that OptGen can add its kernel and members; add the 'partial' modifier".</summary>
        public static readonly DiagnosticDescriptor NotPartial = Error(
            "OPTG0001",
            "Optimizer class must be partial",
            "The optimizer class '{0}' must be declared partial so that OptGen can add its kernel and members; add the 'partial' modifier");

        /// <summary>Format: "The optimizer class '{0}' must not be static: an optimizer is an object that holds hyperparameters and state; remove 'static'".</summary>
        public static readonly DiagnosticDescriptor StaticClass = Error(
            "OPTG0002",
            "Optimizer class must not be static",
            "The optimizer class '{0}' must not be static: an optimizer is an object that holds hyperparameters and state; remove 'static'");

        /// <summary>Format: "The optimizer class '{0}' must not be generic or nested in a generic type: the kernel is specialized for one concrete rule; remove the type parameters or move the class out of the generic type".</summary>
        public static readonly DiagnosticDescriptor Generic = Error(
            "OPTG0003",
            "Optimizer class must not be generic",
            "The optimizer class '{0}' must not be generic or nested in a generic type: the kernel is specialized for one concrete rule; remove the type parameters or move the class out of the generic type");

        /// <summary>Format: "[Optimizer] is applied to '{0}', which is not a class; declare it as 'partial class {0}'".</summary>
        public static readonly DiagnosticDescriptor NotAClass = Error(
            "OPTG0004",
            "[Optimizer] applies to classes only",
            "[Optimizer] is applied to '{0}', which is not a class; declare it as 'partial class {0}'");

        /// <summary>Format: "The type '{0}' that contains the optimizer '{1}' must be declared partial; add the 'partial' modifier to '{0}'".</summary>
        public static readonly DiagnosticDescriptor ContainingTypeNotPartial = Error(
            "OPTG0005",
            "Containing type must be partial",
            "The type '{0}' that contains the optimizer '{1}' must be declared partial; add the 'partial' modifier to '{0}'");

        /// <summary>Format: "The optimizer class '{0}' must not declare a base class; remove it: OptGen derives the class from OptGen.Optimizer".</summary>
        public static readonly DiagnosticDescriptor HasBaseClass = Error(
            "OPTG0006",
            "Optimizer class must not declare a base class",
            "The optimizer class '{0}' must not declare a base class; remove it: OptGen derives the class from OptGen.Optimizer");

        /// <summary>Format: "[{0}] needs exactly one of {1}; give one of them and remove the other".</summary>
        public static readonly DiagnosticDescriptor ConflictingArguments = Error(
            "OPTG0007",
            "Conflicting or missing arguments",
            "[{0}] needs exactly one of {1}; give one of them and remove the other");

        /// <summary>Format: "{0} must be a finite length N &gt;= 1 whose β = 1 − 1/N is below 1 (N below about 9e15), but is {1}; give a length such as 10 or 1000".</summary>
        public static readonly DiagnosticDescriptor InvalidLength = Error(
            "OPTG0008",
            "Invalid averaging length",
            "{0} must be a finite length N >= 1 whose β = 1 − 1/N is below 1 (N below about 9e15), but is {1}; give a length such as 10 or 1000");

        /// <summary>Format: "{0} must be in [0, 1), but is {1}; use a decay such as 0.9 or 0.999".</summary>
        public static readonly DiagnosticDescriptor InvalidBeta = Error(
            "OPTG0009",
            "Invalid decay",
            "{0} must be in [0, 1), but is {1}; use a decay such as 0.9 or 0.999");

        /// <summary>Format: "ε must be a finite value &gt; 0, but is {0}{1}; use a small positive value such as 1e-8".</summary>
        public static readonly DiagnosticDescriptor InvalidEpsilon = Error(
            "OPTG0010",
            "Invalid epsilon",
            "ε must be a finite value > 0, but is {0}{1}; use a small positive value such as 1e-8");

        /// <summary>Format: "[BiasCorrection({0})] has no moment to correct; add [FirstMoment] or [SecondMoment], or remove it".</summary>
        public static readonly DiagnosticDescriptor NothingToCorrect = Error(
            "OPTG0011",
            "Bias correction without a moment",
            "[BiasCorrection({0})] has no moment to correct; add [FirstMoment] or [SecondMoment], or remove it");

        /// <summary>Format: "{0} needs a second moment; add [SecondMoment]".</summary>
        public static readonly DiagnosticDescriptor NeedsSecondMoment = Error(
            "OPTG0012",
            "Second moment required",
            "{0} needs a second moment; add [SecondMoment]");

        /// <summary>Format: "The member '{0}' that OptGen generates collides with a member declared in '{1}'; rename yours{2}".</summary>
        public static readonly DiagnosticDescriptor NameCollision = Error(
            "OPTG0013",
            "Generated member name collides",
            "The member '{0}' that OptGen generates collides with a member declared in '{1}'; rename yours{2}");

        /// <summary>Format: "OptGen needs C# 11 or later; this project uses C# {0}. Set &lt;LangVersion&gt;11&lt;/LangVersion&gt; or later.".</summary>
        public static readonly DiagnosticDescriptor LanguageVersion = Error(
            "OPTG0014",
            "Unsupported language version",
            "OptGen needs C# 11 or later; this project uses C# {0}. Set <LangVersion>11</LangVersion> or later.");

        /// <summary>Format: "{0} must be {1}, but is {2}; change the argument".</summary>
        public static readonly DiagnosticDescriptor OutOfRange = Error(
            "OPTG0015",
            "Hyperparameter out of range",
            "{0} must be {1}, but is {2}; change the argument");

        /// <summary>Format: "'{0}' is not a valid C# identifier for a property name; choose a name such as Alpha".</summary>
        public static readonly DiagnosticDescriptor InvalidName = Error(
            "OPTG0017",
            "Invalid property name",
            "'{0}' is not a valid C# identifier for a property name; choose a name such as Alpha");

        /// <summary>Format: "[{0}] appears more than once on '{1}'; an optimizer takes at most one [{0}]: remove this one or merge their arguments".</summary>
        public static readonly DiagnosticDescriptor DuplicateAttribute = Error(
            "OPTG0018",
            "Duplicate attribute",
            "[{0}] appears more than once on '{1}'; an optimizer takes at most one [{0}]: remove this one or merge their arguments");

        /// <summary>Format: "[{0}] on '{1}' has no effect because '{1}' is not marked [Optimizer]; add [Optimizer] to '{1}' or remove [{0}]".</summary>
        public static readonly DiagnosticDescriptor RuleWithoutOptimizer = Warning(
            "OPTG0019",
            "Update-rule attribute without [Optimizer]",
            "[{0}] on '{1}' has no effect because '{1}' is not marked [Optimizer]; add [Optimizer] to '{1}' or remove [{0}]");

        /// <summary>Format: "The arguments of [{0}] cannot be read ({2}); fix them: OptGen generates nothing for '{1}' until then".</summary>
        public static readonly DiagnosticDescriptor InvalidAttributeArguments = Error(
            "OPTG0020",
            "Attribute arguments cannot be read",
            "The arguments of [{0}] cannot be read ({2}); fix them: OptGen generates nothing for '{1}' until then");

        /// <summary>Format: "Name = &quot;{0}&quot; is already the name of {1}; choose another property name".</summary>
        public static readonly DiagnosticDescriptor NameTaken = Error(
            "OPTG0021",
            "Property name already taken",
            "Name = \"{0}\" is already the name of {1}; choose another property name");

        /// <summary>Format: "The optimizer class '{0}' must not be file-local: OptGen adds its members in another file; remove the 'file' modifier".</summary>
        public static readonly DiagnosticDescriptor FileLocal = Error(
            "OPTG0022",
            "Optimizer class must not be file-local",
            "The optimizer class '{0}' must not be file-local: OptGen adds its members in another file; remove the 'file' modifier");

        /// <summary>Format: "The optimizer class '{0}' must not have a primary constructor: OptGen generates its constructors ({0}(int length), {0}(ParameterLayout layout)), which could not call it; remove the parameter list".</summary>
        public static readonly DiagnosticDescriptor PrimaryConstructor = Error(
            "OPTG0023",
            "Optimizer class must not have a primary constructor",
            "The optimizer class '{0}' must not have a primary constructor: OptGen generates its constructors ({0}(int length), {0}(ParameterLayout layout)), which could not call it; remove the parameter list");

        /// <summary>Format: "{0} is {1}, which is {2} in float32, the precision of the kernels; use a value whose magnitude float32 holds (about 1.4e-45 to 3.4e38)".</summary>
        public static readonly DiagnosticDescriptor NotFloat32 = Error(
            "OPTG0024",
            "Value not representable in float32",
            "{0} is {1}, which is {2} in float32, the precision of the kernels; use a value whose magnitude float32 holds (about 1.4e-45 to 3.4e38)");

        // ---- Combinations of building blocks that the lowering cannot express (OPTG0016, retired, held them all). ----

        /// <summary>Format: "A second moment of kind {0} accumulates every gradient and takes no {1}; remove it".</summary>
        public static readonly DiagnosticDescriptor AccumulatorTakesNoDecay = Error(
            "OPTG0025",
            "Sum or mean second moment takes no decay",
            "A second moment of kind {0} accumulates every gradient and takes no {1}; remove it");

        /// <summary>Format: "The denominator power must be 0.5 (√s) or 1 (s), but is {0}; change Power".</summary>
        public static readonly DiagnosticDescriptor InvalidPower = Error(
            "OPTG0026",
            "Invalid denominator power",
            "The denominator power must be 0.5 (√s) or 1 (s), but is {0}; change Power");

        /// <summary>Format: "Centered needs an exponential-average second moment, but the kind is {0}; remove Centered or change Kind".</summary>
        public static readonly DiagnosticDescriptor CenteredNeedsAverage = Error(
            "OPTG0027",
            "Centered second moment needs an exponential average",
            "Centered needs an exponential-average second moment, but the kind is {0}; remove Centered or change Kind");

        /// <summary>Format: "An infinity-norm second moment is its own denominator and takes no Power; remove Power".</summary>
        public static readonly DiagnosticDescriptor InfinityNormTakesNoPower = Error(
            "OPTG0028",
            "Infinity-norm second moment takes no power",
            "An infinity-norm second moment is its own denominator and takes no Power; remove Power");

        /// <summary>Format: "An infinity-norm second moment u ← max(β·u, |g| + ε) needs [Epsilon]; add [Epsilon(1e-8)]".</summary>
        public static readonly DiagnosticDescriptor InfinityNormNeedsEpsilon = Error(
            "OPTG0029",
            "Infinity-norm second moment needs epsilon",
            "An infinity-norm second moment u ← max(β·u, |g| + ε) needs [Epsilon]; add [Epsilon(1e-8)]");

        /// <summary>Format: "An infinity-norm second moment puts ε inside the maximum; it takes no {0}: remove it".</summary>
        public static readonly DiagnosticDescriptor InfinityNormEpsilonPlacement = Error(
            "OPTG0030",
            "Infinity-norm second moment fixes where epsilon goes",
            "An infinity-norm second moment puts ε inside the maximum; it takes no {0}: remove it");

        /// <summary>Format: "The 1/min(t, N) correction applies to averages, and an infinity-norm second moment is a maximum; use BiasCorrectionMode.Power or remove [BiasCorrection]".</summary>
        public static readonly DiagnosticDescriptor MinTOnInfinityNorm = Error(
            "OPTG0031",
            "MinT bias correction of an infinity norm",
            "The 1/min(t, N) correction applies to averages, and an infinity-norm second moment is a maximum; use BiasCorrectionMode.Power or remove [BiasCorrection]");

        /// <summary>Format: "BeforeBiasCorrection folds √(1 − β₂ᵗ) into the step size and needs {0}; add it or remove BeforeBiasCorrection".</summary>
        public static readonly DiagnosticDescriptor BeforeBiasCorrectionNeeds = Error(
            "OPTG0032",
            "BeforeBiasCorrection needs power bias correction of an average",
            "BeforeBiasCorrection folds √(1 − β₂ᵗ) into the step size and needs {0}; add it or remove BeforeBiasCorrection");

        /// <summary>Format: "Nesterov momentum needs the PyTorch style and zero dampening; remove {0} or Nesterov".</summary>
        public static readonly DiagnosticDescriptor NesterovNeedsPyTorchStyle = Error(
            "OPTG0033",
            "Nesterov momentum needs the PyTorch style without dampening",
            "Nesterov momentum needs the PyTorch style and zero dampening; remove {0} or Nesterov");

        /// <summary>Format: "The classic momentum form b ← μ·b − η·g has no dampening; remove Dampening or use MomentumStyle.PyTorch".</summary>
        public static readonly DiagnosticDescriptor ClassicMomentumDampening = Error(
            "OPTG0034",
            "Classic momentum takes no dampening",
            "The classic momentum form b ← μ·b − η·g has no dampening; remove Dampening or use MomentumStyle.PyTorch");

        /// <summary>Format: "[NesterovMomentumDecay] (NAdam's μₜ schedule) {0}".</summary>
        public static readonly DiagnosticDescriptor NesterovMomentumDecayNeeds = Error(
            "OPTG0035",
            "NesterovMomentumDecay needs Adam's building blocks",
            "[NesterovMomentumDecay] (NAdam's μₜ schedule) {0}");

        /// <summary>Format: "[Rectified] (RAdam's rectification) {0}".</summary>
        public static readonly DiagnosticDescriptor RectifiedNeeds = Error(
            "OPTG0036",
            "Rectified needs Adam's building blocks",
            "[Rectified] (RAdam's rectification) {0}");

        /// <summary>Format: "[DeltaAccumulator] (Adadelta) {0}".</summary>
        public static readonly DiagnosticDescriptor DeltaAccumulatorNeeds = Error(
            "OPTG0037",
            "DeltaAccumulator needs Adadelta's building blocks",
            "[DeltaAccumulator] (Adadelta) {0}");

        /// <summary>Format: "{0} cannot take Units = BatchUnits.{1}: {2}".</summary>
        public static readonly DiagnosticDescriptor InvalidBatchUnits = Error(
            "OPTG0050",
            "Invalid batch units",
            "{0} cannot take Units = BatchUnits.{1}: {2}");

        /// <summary>Format: "Input = SecondMomentInput.PerExampleSquares needs a second moment that averages or sums squares: {0}".</summary>
        public static readonly DiagnosticDescriptor PerExampleSquaresNeed = Error(
            "OPTG0051",
            "Per-example squares need a second moment of squares",
            "Input = SecondMomentInput.PerExampleSquares needs a second moment that averages or sums squares: {0}");

        private static DiagnosticDescriptor Warning(string id, string title, string format) => new(
            id,
            title,
            format,
            Category,
            DiagnosticSeverity.Warning,
            isEnabledByDefault: true,
            helpLinkUri: HelpBase + id.ToLowerInvariant());

        // ---- The expression language (docs/expressions.md): OPTG0100 onwards. Each is reported at the exact
        // column inside the string literal where the mistake is. ----

        /// <summary>Format: "Syntax error in {0}: {1}".</summary>
        public static readonly DiagnosticDescriptor ExpressionSyntax = Error(
            "OPTG0100",
            "Syntax error in an update expression",
            "Syntax error in {0}: {1}");

        /// <summary>Format: "'{0}' is not declared{1}".</summary>
        public static readonly DiagnosticDescriptor UnknownName = Error(
            "OPTG0101",
            "Unknown name in an update expression",
            "'{0}' is not declared{1}");

        /// <summary>Format: "'{0}' is not a function; the functions are {1}".</summary>
        public static readonly DiagnosticDescriptor UnknownFunction = Error(
            "OPTG0102",
            "Unknown function in an update expression",
            "'{0}' is not a function; the functions are {1}");

        /// <summary>Format: "'{0}' takes {1}, but is given {2}".</summary>
        public static readonly DiagnosticDescriptor ArgumentCount = Error(
            "OPTG0103",
            "Wrong number of arguments",
            "'{0}' takes {1}, but is given {2}");

        /// <summary>Format: "{0}".</summary>
        public static readonly DiagnosticDescriptor ExpressionType = Error(
            "OPTG0104",
            "Type error in an update expression",
            "{0}");

        /// <summary>Format: "'{0}' is read before it is defined{1}".</summary>
        public static readonly DiagnosticDescriptor ReadBeforeDefinition = Error(
            "OPTG0105",
            "Value read before it is defined",
            "'{0}' is read before it is defined{1}");

        /// <summary>Format: "'{0}' cannot be assigned: {1}".</summary>
        public static readonly DiagnosticDescriptor ReadOnlyTarget = Error(
            "OPTG0106",
            "Value cannot be assigned",
            "'{0}' cannot be assigned: {1}");

        /// <summary>Format: "'{0}' cannot be used here: {1}".</summary>
        public static readonly DiagnosticDescriptor NotAvailableHere = Error(
            "OPTG0107",
            "Value not available in this expression",
            "'{0}' cannot be used here: {1}");

        /// <summary>Format: "[{0}] cannot be combined with an expression rule ([State], [Hyperparameter], [StepScalar], [Update]); write it as an [Update] statement".</summary>
        public static readonly DiagnosticDescriptor MixedRule = Error(
            "OPTG0108",
            "Building-block attribute on an expression rule",
            "[{0}] cannot be combined with an expression rule ([State], [Hyperparameter], [StepScalar], [Update]); write it as an [Update] statement");

        /// <summary>Format: "'{0}' {1}".</summary>
        public static readonly DiagnosticDescriptor InvalidDeclaration = Error(
            "OPTG0109",
            "Invalid or duplicate name in an expression rule",
            "'{0}' {1}");

        /// <summary>Format: "The default of the hyperparameter '{0}' must be {1}, but is {2}".</summary>
        public static readonly DiagnosticDescriptor InvalidDefault = Error(
            "OPTG0110",
            "Hyperparameter default out of range",
            "The default of the hyperparameter '{0}' must be {1}, but is {2}");

        /// <summary>Format: "The expression rule of '{0}' never assigns p; add [Update(\"p = ...\")]".</summary>
        public static readonly DiagnosticDescriptor NoParameterUpdate = Error(
            "OPTG0111",
            "Expression rule does not update p",
            "The expression rule of '{0}' never assigns p; add [Update(\"p = ...\")]");

        /// <summary>Format: "{0} is too complex: {1}; split it into 'let' locals or [StepScalar]s".</summary>
        public static readonly DiagnosticDescriptor ExpressionTooComplex = Error(
            "OPTG0112",
            "Update expression too complex",
            "{0} is too complex: {1}; split it into 'let' locals or [StepScalar]s");

        /// <summary>Format: "The divisor in {0} is 0; divide by a value that is not 0".</summary>
        public static readonly DiagnosticDescriptor DivisionByZero = Error(
            "OPTG0113",
            "Division by zero",
            "The divisor in {0} is 0; divide by a value that is not 0");

        /// <summary>Format: "The reduction '{0}' cannot be used in a [StepScalar]: a step scalar is the same for every tensor; use it in an [Update] statement".</summary>
        public static readonly DiagnosticDescriptor ReductionInStepScalar = Error(
            "OPTG0114",
            "Reduction in a step scalar",
            "The reduction '{0}' cannot be used in a [StepScalar]: a step scalar is the same for every tensor; use it in an [Update] statement");

        /// <summary>Format: "The operand of '{0}' depends on a reduction: {1}; a rule reduces once, in one pass before its update".</summary>
        public static readonly DiagnosticDescriptor NestedReduction = Error(
            "OPTG0115",
            "Nested reduction",
            "The operand of '{0}' depends on a reduction: {1}; a rule reduces once, in one pass before its update");

        /// <summary>Format: "The operand of '{0}' is the same for every element; reduce an element expression such as p, g or a state".</summary>
        public static readonly DiagnosticDescriptor ReductionOperandNotElementwise = Error(
            "OPTG0116",
            "Reduction of a value that is not per element",
            "The operand of '{0}' is the same for every element; reduce an element expression such as p, g or a state");

        /// <summary>Format: "The block length of '{0}' must be a whole number from 1 to 2147483647 known when the rule is compiled (a number, or numbers alone), not {1}".</summary>
        public static readonly DiagnosticDescriptor InvalidBlockLength = Error(
            "OPTG0117",
            "Invalid block length",
            "The block length of '{0}' must be a whole number from 1 to 2147483647 known when the rule is compiled (a number, or numbers alone), not {1}");

        /// <summary>Format: "[TrustRatio] in the LAMB form needs a [SecondMoment]: {0}".</summary>
        public static readonly DiagnosticDescriptor TrustRatioNeedsSecondMoment = Error(
            "OPTG0130",
            "LAMB trust ratio without a second moment",
            "[TrustRatio] in the LAMB form needs a [SecondMoment]: {0}");

        /// <summary>Format: "[TrustRatio] in the {0} form does not combine with {1}: {2}".</summary>
        public static readonly DiagnosticDescriptor TrustRatioConflict = Error(
            "OPTG0131",
            "Trust ratio does not combine with the rule",
            "[TrustRatio] in the {0} form does not combine with {1}: {2}");

        /// <summary>Format: "[TrustRatio] {0} must be {1}, but is {2}".</summary>
        public static readonly DiagnosticDescriptor TrustRatioOutOfRange = Error(
            "OPTG0132",
            "Trust ratio argument out of range",
            "[TrustRatio] {0} must be {1}, but is {2}");

        /// <summary>Format: "[SecondMoment] Scope = MomentScope.{0} does not combine with {1}: {2}".</summary>
        public static readonly DiagnosticDescriptor MomentScopeConflict = Error(
            "OPTG0133",
            "Second-moment scope does not combine with the rule",
            "[SecondMoment] Scope = MomentScope.{0} does not combine with {1}: {2}");

        /// <summary>Format: "[SecondMoment] {0}".</summary>
        public static readonly DiagnosticDescriptor InvalidMomentBlockLength = Error(
            "OPTG0134",
            "Invalid second-moment block length",
            "[SecondMoment] {0}");

        /// <summary>Format: "The optimizer class '{0}' declares the base class OptGen.Optimizer, but its rule has reductions ({1}) and OptGen derives it from OptGen.ReductionOptimizer; remove the base class".</summary>
        public static readonly DiagnosticDescriptor ReductionRuleBaseClass = Error(
            "OPTG0135",
            "Rule with reductions declares the base class Optimizer",
            "The optimizer class '{0}' declares the base class OptGen.Optimizer, but its rule has reductions ({1}) and OptGen derives it from OptGen.ReductionOptimizer; remove the base class");

        /// <summary>Format: "The member '{0}' of '{1}' hides {2}.{0}, which '{1}' inherits from the base class OptGen generates{3}; rename yours".</summary>
        public static readonly DiagnosticDescriptor HidesInheritedMember = Error(
            "OPTG0136",
            "Member hides a member of the generated base class",
            "The member '{0}' of '{1}' hides {2}.{0}, which '{1}' inherits from the base class OptGen generates{3}; rename yours");

        /// <summary>Format: "A type declared as '{0}' hides the namespace {0} that the code OptGen generates for '{1}' names (global::{0}); rename the type or move it into another namespace".</summary>
        public static readonly DiagnosticDescriptor TypeHidesNamespace = Error(
            "OPTG0137",
            "Type hides a namespace of the generated code",
            "A type declared as '{0}' hides the namespace {0} that the code OptGen generates for '{1}' names (global::{0}); rename the type or move it into another namespace");

        /// <summary>Format: "The state '{0}' of '{1}' is never read or written by the update: it stays 0, yet it is allocated for every parameter and saved in every checkpoint, costing memory and traffic for nothing; use it in an [Update] statement or remove {2}".</summary>
        public static readonly DiagnosticDescriptor UnusedState = Warning(
            "OPTG0138",
            "State is never used",
            "The state '{0}' of '{1}' is never read or written by the update: it stays 0, yet it is allocated for every parameter and saved in every checkpoint, costing memory and traffic for nothing; use it in an [Update] statement or remove {2}");

        /// <summary>Format: "The hyperparameter '{0}' of '{1}' is never used by the update{2}: setting it changes nothing; use it in an [Update] or [StepScalar] that the update uses, or remove {3}".</summary>
        public static readonly DiagnosticDescriptor UnusedHyperparameter = Warning(
            "OPTG0139",
            "Hyperparameter is never used",
            "The hyperparameter '{0}' of '{1}' is never used by the update{2}: setting it changes nothing; use it in an [Update] or [StepScalar] that the update uses, or remove {3}");

        /// <summary>Format: "The step scalar '{0}' of '{1}' is never used by the update{2}, so it is not computed; use it in an [Update] statement or remove {3}".</summary>
        public static readonly DiagnosticDescriptor UnusedStepScalar = Warning(
            "OPTG0140",
            "Step scalar is never used",
            "The step scalar '{0}' of '{1}' is never used by the update{2}, so it is not computed; use it in an [Update] statement or remove {3}");

        /// <summary>Format: "The state '{0}' of '{1}' is read by the update but no statement assigns it: it stays 0 on every step (only loading a checkpoint or a state dictionary could change it); assign it in an [Update] statement, or use a hyperparameter or a number instead".</summary>
        public static readonly DiagnosticDescriptor StateNeverWritten = Warning(
            "OPTG0141",
            "State is read but never written",
            "The state '{0}' of '{1}' is read by the update but no statement assigns it: it stays 0 on every step (only loading a checkpoint or a state dictionary could change it); assign it in an [Update] statement, or use a hyperparameter or a number instead");

        /// <summary>Format: "[NonNegativeState(\"{0}\")] names no state buffer of the rule: {1}".</summary>
        public static readonly DiagnosticDescriptor InvalidStateOverride = Error(
            "OPTG0200",
            "State sign override names no state buffer",
            "[NonNegativeState(\"{0}\")] does not apply: {1}");

        private static DiagnosticDescriptor Error(string id, string title, string format) => new(
            id,
            title,
            format,
            Category,
            DiagnosticSeverity.Error,
            isEnabledByDefault: true,
            helpLinkUri: HelpBase + id.ToLowerInvariant(),
            customTags: WellKnownDiagnosticTags.NotConfigurable);
    }
}
